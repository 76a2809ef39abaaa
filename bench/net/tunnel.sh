#!/usr/bin/env bash
# bench/net/tunnel.sh: underlay AES-256-GCM seal and open (tunnel_encap /
# tunnel_decap, one core) at 1500 and 9001-byte inner frames, side by side
# in the same run with `openssl speed -evp aes-256-gcm -aead` (OpenSSL's own
# AEAD loop: per-record IV, 13-byte AAD, tag; the ratio's reference) and
# plain `-evp aes-256-gcm` (one long GCM stream in chunks of that size, no
# per-record work: the ceiling) at the same sizes. All per second of CPU time. Prints a table, writes JSON, last line:
# tunnel_vs_openssl_1500=R tunnel_vs_openssl_9001=R (seal / reference).
# Usage: tunnel.sh [BUILD_DIR [OUT_JSON]]
set -euo pipefail
B=${1:-${WARD_BUILD_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)/build}}
B=$(cd "$B" && pwd)
OUT_JSON=${2:-$B/bench/net/tunnel.json}
SECS=${TUNNEL_BENCH_SECONDS:-2}
BIN=$B/bench/net/tunnel_bench
[ -x "$BIN" ] || { echo "tunnel.sh: $BIN not built (ninja -C $B bench/net/tunnel_bench)"; exit 1; }
ref_gbps() { # size [-aead] -> Gbit/s of openssl's loop
	openssl speed -evp aes-256-gcm ${2:-} -bytes "$1" -seconds "$SECS" -mr 2>/dev/null |
		awk -F: '/^\+F:/ { printf "%.2f", $4 * 8 / 1e9 }'
}
printf '%-6s %10s %10s %12s %12s %8s\n' size seal_gbps open_gbps openssl_aead openssl_bulk ratio
json="" last=""
for sz in 1500 9001; do
	read -r _ seal open < <("$BIN" "$sz" "$SECS")
	ref=$(ref_gbps "$sz" -aead)
	bulk=$(ref_gbps "$sz")
	ratio=$(awk -v a="$seal" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')
	printf '%-6s %10s %10s %12s %12s %8s\n' "$sz" "$seal" "$open" "$ref" "$bulk" "$ratio"
	json+="${json:+,}\"$sz\":{\"seal_gbps\":$seal,\"open_gbps\":$open,\"openssl_aead_gbps\":$ref,\"openssl_bulk_gbps\":$bulk,\"ratio\":$ratio}"
	last+="${last:+ }tunnel_vs_openssl_$sz=$ratio"
done
mkdir -p "$(dirname "$OUT_JSON")"
printf '{"cpu":"%s",%s}\n' "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" "$json" >"$OUT_JSON"
echo "$last"
