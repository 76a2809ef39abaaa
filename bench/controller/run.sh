#!/usr/bin/env bash
# Audit log append throughput with durability: W concurrent writers, every
# append acknowledged only after fdatasync (group commit), side by side with
# the reference of one fdatasync per append on the same disk in the same
# run. Files go under the build dir (a real disk, not tmpfs).
# usage: bench/controller/run.sh BUILD_DIR [JSON_OUT]
# Last line: audit_appends_per_s=N (16 writers, 1024 appends in flight each).
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
OUT=${2:-}
SECS=${SECS:-3}
EXE=$B/bench/controller/bench_audit
[ -x "$EXE" ] || ninja -C "$B" bench/controller/bench_audit >/dev/null
D=$(mktemp -d "$B/bench-audit.XXXXXX")
trap 'rm -rf "$D"' EXIT

run() { rm -rf "$D/log"; "$EXE" "$D/log" "$@"; }
val() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

ref=$("$EXE" "$D" 1 "$SECS" --no-group)
ref_s=$(echo "$ref" | val appends_per_s)
printf '%-34s %12s %10s %s\n' "case" "appends/s" "vs ref" "detail"
printf '%-34s %12s %10s %s\n' "reference: fdatasync per append" "$ref_s" "1.0x" "$ref"
json="{\"reference_appends_per_s\": $ref_s"
last=0
# writers x appends in flight per writer
for cfg in "1 1" "8 1" "64 1" "8 64" "16 1024"; do
	set -- $cfg
	line=$(run "$1" "$SECS" "$2")
	a=$(echo "$line" | val appends_per_s)
	ratio=$(awk -v a="$a" -v r="$ref_s" 'BEGIN { printf "%.1fx", (r > 0 ? a / r : 0) }')
	printf '%-34s %12s %10s %s\n' "group commit, $1 writers x $2" "$a" "$ratio" "$line"
	json="$json, \"writers_${1}_inflight_${2}\": $a"
	last=$a
done
json="$json}"
[ -n "$OUT" ] && echo "$json" >"$OUT"
echo "audit_appends_per_s=$last"
