#!/usr/bin/env bash
# ward-hv vs QEMU microvm vs the floor (bench/hv/floor.c: the least a VMM
# can do to run a PVH image on KVM) on the same `hello` PVH image, side by
# side in one run: wall time from process start to guest exit (median of N
# runs), and the
# VMM's own resident memory beyond guest RAM (RssAnon + RssFile of a live VM
# whose guest RAM is a memfd in both VMMs, so RssShmem holds the guest).
# usage: bench/hv/run.sh BUILD_DIR [JSON_OUT]
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
OUT=${2:-}
N=${N:-20}
HV=$B/src/hv/ward-hv
HELLO=$B/guest/hello.elf
SPIN=$B/guest/spin.elf
FLOOR=$B/bench/hv/floor
MEM=32
QEMU=(qemu-system-x86_64 -M microvm -enable-kvm -cpu EPYC -m $MEM -nographic
      -no-reboot -nodefaults -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4)

now_ns() { date +%s%N; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

time_runs() { # label cmd... -> prints N durations in ms
	for _ in $(seq "$N"); do
		local t0 t1
		t0=$(now_ns)
		"$@" >/dev/null 2>&1 || true
		t1=$(now_ns)
		echo $(( (t1 - t0) / 1000 ))
	done
}

rss_kib() { # pid -> RssAnon + RssFile in KiB
	awk '/^RssAnon:|^RssFile:/ {s += $2} END {print s}' "/proc/$1/status"
}

live_rss() { # cmd... : start a spinning guest, wait for its banner, sample
	local log pid
	log=$(mktemp)
	"$@" >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do grep -q "spin: running" "$log" && break; sleep 0.05; done
	sleep 0.2
	rss_kib "$pid"
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
	rm -f "$log"
}

# Two sizes: ward-hv's costs that grow with --memory show as a difference.
# The QEMU ratio is at MEM_SMALL, the smallest size both VMMs accept;
# hv_vs_floor is the worse of the two sizes (issue 12: <= 2.0).
MEM_SMALL=${MEM_SMALL:-4}
MEM_LARGE=${MEM_LARGE:-32}
[ -x "$FLOOR" ] || { echo "bench/hv: $FLOOR not built"; exit 1; }
"$FLOOR" "$HELLO" "$MEM_SMALL" >/dev/null 2>&1 ||
	{ echo "bench/hv: the floor VMM cannot run hello here (no usable /dev/kvm?)"; exit 1; }
printf '%-34s %14s %14s %8s %10s %8s\n' "metric ($N runs, median)" "ward-hv" "qemu microvm" "ratio" \
	"floor" "hv/floor"
json="" floor_ratio=0
for mem in $MEM_SMALL $MEM_LARGE; do
	hv_us=$(time_runs "$HV" --kernel "$HELLO" --memory "$mem" | median)
	q_us=$(time_runs "${QEMU[@]}" -m "$mem" -kernel "$HELLO" | median)
	f_us=$(time_runs "$FLOOR" "$HELLO" "$mem" | median)
	r=$(awk -v a="$q_us" -v b="$hv_us" 'BEGIN {printf "%.2f", a / b}')
	fr=$(awk -v a="$hv_us" -v b="$f_us" 'BEGIN {printf "%.2f", a / b}')
	printf '%-34s %14.1f %14.1f %8s %10.1f %8s\n' "start to guest exit, ${mem} MiB (ms)" \
		"$(echo "$hv_us/1000" | bc -l)" "$(echo "$q_us/1000" | bc -l)" "$r" \
		"$(echo "$f_us/1000" | bc -l)" "$fr"
	json="$json\"start_${mem}mib\": {\"hv_us\": $hv_us, \"qemu_us\": $q_us, \"floor_us\": $f_us, \"ratio\": $r, \"hv_vs_floor\": $fr}, "
	[ "$mem" = "$MEM_SMALL" ] && start_ratio=$r
	floor_ratio=$(awk -v a="$floor_ratio" -v b="$fr" 'BEGIN {print (b > a) ? b : a}')
done
# Where ward-hv's time goes, one run per size (WARD_HV_TIMING=1: one
# "phases" line on stderr; exec and dynamic linking are the wall time
# minus its total).
for mem in $MEM_SMALL $MEM_LARGE; do
	t0=$(now_ns)
	ph=$(WARD_HV_TIMING=1 "$HV" --kernel "$HELLO" --memory "$mem" 2>&1 >/dev/null | grep 'phases' || true)
	t1=$(now_ns)
	echo "${mem} MiB, wall $(( (t1 - t0) / 1000 )) us: ${ph#ward-hv: }"
done
# The same large size with guest RAM on 2 MiB hugepages (ward-hv
# --hugepages 2M): populate and wipe touch 512x fewer pages. Needs root to
# grow the host's pool for the run; it is put back afterwards.
POOL=/sys/kernel/mm/hugepages/hugepages-2048kB
if [ -w "$POOL/nr_hugepages" ]; then
	exec 8>/tmp/ward-hugepages.lock
	flock 8
	nr0=$(cat "$POOL/nr_hugepages")
	echo $(( nr0 + MEM_LARGE / 2 )) >"$POOL/nr_hugepages"
	hp_us=$(time_runs "$HV" --kernel "$HELLO" --memory "$MEM_LARGE" --hugepages 2M | median)
	echo "$nr0" >"$POOL/nr_hugepages"
	flock -u 8
	r=$(awk -v a="$q_us" -v b="$hp_us" 'BEGIN {printf "%.2f", a / b}')
	printf '%-34s %14.1f %14.1f %8s\n' "same, ward-hv on 2 MiB hugepages" \
		"$(echo "$hp_us/1000" | bc -l)" "$(echo "$q_us/1000" | bc -l)" "$r"
	json="$json\"start_${MEM_LARGE}mib_hugepages\": {\"hv_us\": $hp_us, \"qemu_us\": $q_us, \"ratio\": $r}, "
fi
hv_rss=$(live_rss "$HV" --kernel "$SPIN" --memory $MEM)
q_rss=$(live_rss "${QEMU[@]}" -object memory-backend-memfd,id=m,size=${MEM}M,share=on \
	-machine memory-backend=m -kernel "$SPIN")
rss_ratio=$(awk -v a="$hv_rss" -v b="$q_rss" 'BEGIN {printf "%.2f", a / b}')
printf '%-34s %14d %14d %8s\n' "VMM RSS beyond guest RAM (KiB)" "$hv_rss" "$q_rss" "$rss_ratio"
if [ -n "$OUT" ]; then
	printf '{%s"hv_rss_kib": %s, "qemu_rss_kib": %s, "hv_vs_floor": %s, "hv_vs_qemu_start_ratio": %s, "rss_ratio": %s}\n' \
		"$json" "$hv_rss" "$q_rss" "$floor_ratio" "$start_ratio" "$rss_ratio" >"$OUT"
fi
echo "hv_vs_floor=$floor_ratio hv_vs_qemu_start_ratio=$start_ratio rss_ratio=$rss_ratio"
