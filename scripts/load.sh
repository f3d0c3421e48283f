#!/usr/bin/env bash
# Load test (issue #11): a release `phr serve` in its own process on a fresh
# PostgreSQL database, seeded with 1,000 residents, 200 family members and 5
# nurses, then the request mix from tests/examples/load.rs against a /healthz
# baseline; prints throughput, latency percentiles, errors and server RSS.
# The database is dropped at exit.
#
# Benchmark-only settings of the server (production defaults are untouched):
#   PHR_ARGON2_MEMORY_KIB=1024   seeding signs in 1,206 accounts; the mix itself
#                                never hashes a password
#   PHR_RATE_TOKEN_PER_IP        every simulated phone signs in from 127.0.0.1
#   PHR_ACCESS_TOKEN_TTL=3600    tokens outlive seeding plus all rounds
# Usage: scripts/load.sh [--seconds 30] [--rounds 3] [--concurrency 64] [--rate 2000]
#                        [--residents 1000] [--family 200] [--nurses 5]
# Environment: PHR_LOAD_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres),
#   PHR_LOAD_PORT (default 18431), PHR_LOAD_DB_MAX_CONNECTIONS (server pool, default 10),
#   PHR_LOAD_SERVER_CPUS / PHR_LOAD_CLIENT_CPUS (taskset lists, e.g. 0 and 1; default: unpinned).
set -euo pipefail
cd "$(dirname "$0")/.."
admin_url="${PHR_LOAD_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
port="${PHR_LOAD_PORT:-18431}"
target="${CARGO_TARGET_DIR:-target}"

cargo build --release --locked -q -p phr-server --bin phr -p phr-tests --example load
phr="$target/release/phr"
load="$target/release/examples/load"

db="phr_load_$$"
data_dir="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$data_dir"
}
trap cleanup EXIT
psql -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null

export PHR_DATABASE_URL="${admin_url%/*}/$db"
export PHR_DATA_DIR="$data_dir"
export PHR_BIND="127.0.0.1:$port"
PHR_SIGNING_KEY="$("$phr" keygen)"
export PHR_SIGNING_KEY
export PHR_CARD_KEY="load-card-key-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
export PHR_ARGON2_MEMORY_KIB=1024
export PHR_RATE_TOKEN_PER_IP=1000000
export PHR_ACCESS_TOKEN_TTL=3600
export PHR_DB_MAX_CONNECTIONS="${PHR_LOAD_DB_MAX_CONNECTIONS:-10}"
export PHR_ADMIN_PASSWORD="correct horse battery staple"

"$phr" admin create-admin --email admin@load.example.jp >/dev/null
server_cmd=("$phr" serve)
client_cmd=("$load")
if [ -n "${PHR_LOAD_SERVER_CPUS:-}" ]; then server_cmd=(taskset -c "$PHR_LOAD_SERVER_CPUS" "${server_cmd[@]}"); fi
if [ -n "${PHR_LOAD_CLIENT_CPUS:-}" ]; then client_cmd=(taskset -c "$PHR_LOAD_CLIENT_CPUS" "${client_cmd[@]}"); fi
# Request logs go to a file, as they would to a collector; writing them is part of the cost.
"${server_cmd[@]}" >"$data_dir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { tail -20 "$data_dir/server.log"; exit 1; }
echo "server: pid $server_pid, pool $PHR_DB_MAX_CONNECTIONS connections, PostgreSQL $(psql -tAq "$admin_url" -c 'show server_version')"
"${client_cmd[@]}" --base "http://127.0.0.1:$port" --admin admin@load.example.jp --pid "$server_pid" "$@"
errors=$(grep -c ' ERROR ' "$data_dir/server.log" || true)
echo "server log: $errors ERROR lines"
grep ' ERROR ' "$data_dir/server.log" | head -5 || true
