#!/usr/bin/env bash
# Builds and serves the API on http://127.0.0.1:8080 with the embedded SQLite
# database in ./phr-data. Settings: PHR_* environment variables (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install the Rust toolchain (rustup) first" >&2
  exit 1
fi
exec cargo run --release --locked -p phr-server --bin phr -- "${@:-serve}"
