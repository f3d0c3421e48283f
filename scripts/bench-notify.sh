#!/usr/bin/env bash
# Push delivery through the outbox worker to the local FCM stand-in (against
# direct sends as the baseline) and the added latency of alert-rule evaluation
# per 5,000-item batch, on SQLite and PostgreSQL.
# PostgreSQL: PHR_TEST_POSTGRES_URL, else a local server on 127.0.0.1:5432.
# Usage: scripts/bench-notify.sh [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PHR_TEST_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  export PHR_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
fi
exec cargo run --release --locked -q -p phr-tests --example bench_notify -- "$@"
