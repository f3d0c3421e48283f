#!/usr/bin/env bash
# Runs the whole test suite: every test on SQLite, and on PostgreSQL too when
# one is reachable (PHR_TEST_POSTGRES_URL, or a local server on 127.0.0.1:5432).
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install the Rust toolchain (rustup) first" >&2
  exit 1
fi

if [ -z "${PHR_TEST_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 \
   && pg_isready -q -h 127.0.0.1 -p 5432; then
  export PHR_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
fi

if [ -n "${PHR_TEST_POSTGRES_URL:-}" ]; then
  echo "test databases: SQLite and PostgreSQL (${PHR_TEST_POSTGRES_URL%%@*}@…)"
  # Databases left behind by an interrupted run.
  if command -v psql >/dev/null 2>&1; then
    for db in $(psql "$PHR_TEST_POSTGRES_URL" -Atc "select datname from pg_database where datname like 'phr_test_%'" 2>/dev/null); do
      psql "$PHR_TEST_POSTGRES_URL" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
    done
  fi
else
  echo "test databases: SQLite only (set PHR_TEST_POSTGRES_URL to add PostgreSQL)"
fi

# The FHIR export is checked by an independent validator: the `fhir.resources`
# package (6.1.0 = FHIR R4 4.0.1; it needs pydantic 1), in a virtual environment
# of its own. tests/api/export.rs runs scripts/validate_fhir.py with it, and
# fails rather than skips under CI=true when it is missing.
FHIR_VENV=.venv-fhir
FHIR_PIN="fhir.resources==6.1.0 pydantic==1.10.27"
if [ -z "${PHR_FHIR_VALIDATOR:-}" ]; then
  if [ ! -x "$FHIR_VENV/bin/python" ] || ! "$FHIR_VENV/bin/python" -c 'import fhir.resources' 2>/dev/null; then
    if command -v python3 >/dev/null 2>&1; then
      echo "installing the FHIR validator ($FHIR_PIN) into $FHIR_VENV"
      python3 -m venv "$FHIR_VENV" && "$FHIR_VENV/bin/pip" install -q $FHIR_PIN \
        || echo "could not install the FHIR validator: export validation will be skipped (or fail under CI)" >&2
    else
      echo "python3 not found: FHIR export validation will be skipped (or fail under CI)" >&2
    fi
  fi
  if "$FHIR_VENV/bin/python" -c 'import fhir.resources' 2>/dev/null; then
    PHR_FHIR_VALIDATOR="$(pwd)/$FHIR_VENV/bin/python"
    export PHR_FHIR_VALIDATOR
  fi
fi

# The staff console's browser test (tests/api/console.rs) drives Debian's Chromium
# with playwright-core (tests/e2e, no browser download); Japanese fonts make its
# screenshots legible. It fails rather than skips under CI=true when they are missing.
apt_missing=()
[ -x "${PHR_E2E_CHROMIUM:-/usr/bin/chromium}" ] || apt_missing+=(chromium)
command -v node >/dev/null 2>&1 || apt_missing+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_missing+=(npm)
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=ja 2>/dev/null)" ]; then apt_missing+=(fonts-noto-cjk); fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing ${apt_missing[*]} (apt) for the console browser test"
    { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null; } \
      || echo "could not install ${apt_missing[*]}: the console browser test will be skipped (or fail under CI)" >&2
  else
    echo "apt-get not found: install ${apt_missing[*]} for the console browser test" >&2
  fi
fi
if command -v npm >/dev/null 2>&1 && { [ ! -f tests/e2e/node_modules/.package-lock.json ] \
     || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; }; then
  echo "installing the console browser test's npm packages (tests/e2e)"
  (cd tests/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) \
    || echo "npm ci failed in tests/e2e: the console browser test will be skipped (or fail under CI)" >&2
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# Contract fuzzing (docs/contract-fuzzing.md): schemathesis against a seeded
# server on SQLite and PostgreSQL. About 9 minutes, so it runs in CI (CI=true)
# or on request (PHR_CONTRACT_FUZZ=1), not on every local `scripts/test.sh`.
if [ "${CI:-}" = true ] || [ "${PHR_CONTRACT_FUZZ:-}" = 1 ]; then
  if [ "$status" -eq 0 ]; then
    scripts/contract-fuzz.sh || status=1
  else
    echo "contract fuzz skipped: cargo test failed" >&2
  fi
fi

sqlite=$(grep -cE '::sqlite \.\.\. ok$|_on_sqlite \.\.\. ok$' "$log" || true)
postgres=$(grep -cE '::postgres \.\.\. ok$|_on_postgres \.\.\. ok$' "$log" || true)
echo "database-backed tests passed: SQLite ${sqlite}, PostgreSQL ${postgres}"
if [ "${PHR_REQUIRE_POSTGRES:-}" = 1 ] && [ "$postgres" -eq 0 ]; then
  echo "FATAL: PHR_REQUIRE_POSTGRES=1 but no PostgreSQL test passed" >&2
  exit 1
fi
exit "$status"
