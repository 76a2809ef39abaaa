#!/usr/bin/env bash
# bench/enclave/run.sh: attest_verify of a real AWS document and
# attest_generate per second, and eif_parse+eif_measure throughput, each
# beside its reference in the same run (raw ECDSA P-384 verify/sign, raw
# SHA-384). Prints a table, writes JSON, last line:
# attest_verify_per_s=N attest_generate_per_s=N.
# Usage: run.sh [BUILD_DIR [OUT_JSON]] (scripts/bench.sh passes both).
set -euo pipefail
B=${1:-${WARD_BUILD_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)/build}}
B=$(cd "$B" && pwd)
OUT_JSON=${2:-$B/bench/enclave/results.json}
case $OUT_JSON in /*) ;; *) OUT_JSON=$PWD/$OUT_JSON ;; esac
mkdir -p "$(dirname "$OUT_JSON")"
echo "enclave benchmark: ${ENCLAVE_BENCH_SECONDS:-3}s per row, $(nproc) CPUs"
exec "$B/bench/enclave/enclave_bench" "$(cd "$(dirname "$0")/../.." && pwd)/tests/enclave/samples" \
	"$OUT_JSON" "${ENCLAVE_BENCH_SECONDS:-3}"
