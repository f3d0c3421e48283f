#!/usr/bin/env bash
# Observation ingest over HTTP vs plain multi-row INSERTs, and a year of
# minute-level heart rate summarised per day, on SQLite and PostgreSQL.
# PostgreSQL: PHR_BENCH_POSTGRES_URL, else a local server on 127.0.0.1:5432.
# Usage: scripts/bench-observations.sh [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PHR_BENCH_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  export PHR_BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
fi
exec cargo run --release --locked -q -p phr-server --example bench_observations -- "$@"
