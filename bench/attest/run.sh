#!/usr/bin/env bash
# bench/attest/run.sh: host-attestation round trips per second
# (docs/attestation.md) — ward-api's whole check of one host (keys,
# MakeCredential, ActivateCredential, quote, verify against the golden set,
# over mTLS) against the real measured controller on swtpm, side by side
# with its reference, bare TPM2_Quote calls on the same swtpm in the same
# run. usage: bench/attest/run.sh [BUILD_DIR [OUT_JSON]]; env ROUNDS (20).
# Last line: attest_round_trips_per_s=… tpm_quotes_per_s=… ratio=…
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "${1:-$SRC/build}" && pwd)
OUT=${2:-}
case $OUT in /*|'') ;; *) OUT=$PWD/$OUT ;; esac
for t in bench/attest/attest_bench src/controller/ward-controller src/boot/ward-boot \
	src/controller/fw/ward-fwtool tests/controller/hv_standin tests/attest/attest_tool \
	src/blk/ward-blk guest/hello.elf; do
	[ -e "$B/$t" ] || ninja -C "$B" "$t" >/dev/null
done
export WARD_BUILD_ROOT=$B WARD_SOURCE_ROOT=$SRC ROUNDS=${ROUNDS:-20} OUT
exec bash "$SRC/tests/tpm/swtpm-env.sh" bash -c '
	set +e
	source "$WARD_SOURCE_ROOT/tests/controller/lib.sh"
	STANDIN=$B/tests/controller/hv_standin TOOL=$B/tests/attest/attest_tool
	source "$WARD_SOURCE_ROOT/tests/attest/lib.sh"
	tpm2_createek -c "$W/ek.ctx" -G ecc -u "$W/ek.tss" >/dev/null 2>&1 || exit 1
	tpm2_flushcontext -t >/dev/null 2>&1
	boot "$W/ctl"
	line=$("$B/bench/attest/attest_bench" "$URL" "$P/ca.pem" "$P/cp.pem" "$P/cp.key" \
		"$W/ek.tss" "$W/golden" rel-1 "$WARD_TPM_TCTI" "$ROUNDS") || { stop_ctl; exit 1; }
	stop_ctl
	val() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$line"; }
	printf "%-46s %10s %s\n" case "per s" "vs ref"
	printf "%-46s %10s %s\n" "reference: TPM2_Quote on the same swtpm" "$(val tpm_quotes_per_s)" 1.0x
	printf "%-46s %10s %sx\n" "ward-api round (activate + quote + verify)" "$(val attest_round_trips_per_s)" "$(val ratio)"
	[ -z "$OUT" ] || printf "{\"attest_round_trips_per_s\": %s, \"tpm_quotes_per_s\": %s, \"ratio\": %s}\n" \
		"$(val attest_round_trips_per_s)" "$(val tpm_quotes_per_s)" "$(val ratio)" >"$OUT"
	echo "$line"
'
