#!/usr/bin/env bash
# Long runs of the property-test fuzzers (CI runs each at scale 1):
# the JAHIS QR parser, the HL7 v2 / SS-MIX2 parser and the sync cursor decoder.
# Usage: scripts/fuzz-long.sh [scale]   (default 100: about a hundred times the CI cases)
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-100}"
JAHIS_FUZZ_SCALE="$scale" cargo test --release --locked -p phr-formats --test jahis_fuzz
SSMIX2_FUZZ_SCALE="$scale" cargo test --release --locked -p phr-formats --test ssmix2_fuzz
SYNC_FUZZ_SCALE="$scale" cargo test --release --locked -p phr-server --lib sync::feed::tests
