#!/usr/bin/env bash
# bench/net/run.sh: every ward-net benchmark part in this directory, each
# side by side with its reference in the same run, each with its own JSON:
#   tunnel.sh  the underlay's seal/open against openssl speed (one core)
#   fwd.sh     same host, 64/1514/9015-byte frames and latency, ward-net
#              (security groups on) against DPDK testpmd (vhost PMD, io fwd)
#   xhost.py   across two hosts (network namespaces), AES-256-GCM Geneve
# Last line: net_vs_ref_pps=R net_xhost_gbps=G (fwd.sh's and xhost.py's).
# Usage: run.sh [BUILD_DIR [OUT_JSON]] (scripts/bench.sh passes both).
set -euo pipefail
here=$(dirname "$0")
B=${1:-${WARD_BUILD_ROOT:-$(cd "$here/../.." && pwd)/build}}
OUT_JSON=${2:-$B/bench/net.json}
rc=0 last=""
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
part() { # NAME COMMAND...: runs it, shows its output, keeps its last line
	local name=$1
	shift
	echo "-- net/$name"
	"$@" "$B" "${OUT_JSON%.json}-$name.json" | tee "$tmp" || { rc=1; return 0; }
	last+="${last:+ }$(tail -n 1 "$tmp")"
}
part tunnel bash "$here/tunnel.sh"
part fwd bash "$here/fwd.sh"
part xhost /usr/bin/python3 "$here/xhost.py"
# The two figures issue 11 asks for, on the last line.
echo "$(grep -o 'net_vs_ref_pps=[^ ]*' <<<"$last" || echo net_vs_ref_pps=none)" \
	"$(grep -o 'net_xhost_gbps=[^ ]*' <<<"$last" || echo net_xhost_gbps=none)"
exit $rc
