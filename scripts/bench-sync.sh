#!/usr/bin/env bash
# Sync feed: initial sync of 3 × 100,000 observations, then N devices looping
# push + pull (PostgreSQL when reachable, else SQLite).
# Usage: scripts/bench-sync.sh [--devices 200] [--seconds 60] [--think-ms 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PHR_BENCH_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  export PHR_BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
fi
exec cargo run --release --locked -q -p phr-server --example bench_sync -- "$@"
