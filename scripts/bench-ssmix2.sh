#!/usr/bin/env bash
# SS-MIX2 back-load: `phr import-ssmix2` on a replicated sample storage, on
# SQLite and PostgreSQL, against the parser alone measured in the same run.
# PostgreSQL: PHR_BENCH_POSTGRES_URL, else a local server on 127.0.0.1:5432.
# Usage: scripts/bench-ssmix2.sh [--patients 500] [--rounds 3]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PHR_BENCH_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  export PHR_BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
fi
# The importer runs as its own process: build the release binary next to the example.
cargo build --release --locked -q -p phr-server --bin phr
exec cargo run --release --locked -q -p phr-server --example bench_ssmix2 -- "$@"
