#!/usr/bin/env bash
# bench/net/run.sh: every ward-net benchmark part in this directory
# (tunnel.sh: the underlay's seal/open against openssl speed). Each part
# gets the build dir and its own JSON path.
# Usage: run.sh [BUILD_DIR [OUT_JSON]] (scripts/bench.sh passes both).
set -euo pipefail
B=${1:-${WARD_BUILD_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)/build}}
OUT_JSON=${2:-$B/bench/net.json}
rc=0
for part in "$(dirname "$0")"/*.sh; do
	[ "$(basename "$part")" = run.sh ] && continue
	name=$(basename "$part" .sh)
	echo "-- net/$name"
	bash "$part" "$B" "${OUT_JSON%.json}-$name.json" || rc=1
done
exit $rc
