#!/usr/bin/env bash
# bench/net/fwd.sh: same-host forwarding, ward-net side by side with DPDK
# testpmd (vhost PMD, io forward) in the same run, driven by the same
# frontend (tests/net/vu_net_load: fills port 0's TX ring, drains port 1's
# RX ring, busy-polling). ward-net: two ENIs of one subnet, AWS's default
# security group on both (tracked flows: conntrack on every frame).
# testpmd: --vdev net_vhost0/1 with --no-huge (no hugepages needed).
# Each server pinned to CPU 1, the frontend to CPU 0 (testpmd's idle main
# lcore shares CPU 0 with it). Frames: 64 B (no FCS), 1514 B and 9015 B
# (IPv4 MTU 1500 / 9001 + Ethernet), SECS s each; then LAT_N frames one at
# a time for latency. Prints a table, writes JSON, last line:
# net_vs_ref_pps=R (ward-net / testpmd at 64 B).
# Usage: fwd.sh [BUILD_DIR [OUT_JSON]]
set -euo pipefail
B=${1:-${WARD_BUILD_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)/build}}
B=$(cd "$B" && pwd)
OUT_JSON=${2:-$B/bench/net/fwd.json}
SECS=${BENCH_SECS:-3}
LAT_N=${BENCH_LAT_N:-20000}
LOAD=$B/tests/net/vu_net_load
WARD_NET=$B/src/net/ward-net
for x in "$LOAD" "$WARD_NET"; do [ -x "$x" ] || { echo "fwd.sh: $x not built"; exit 1; }; done
if ! command -v dpdk-testpmd >/dev/null; then
	# The reference is a bench dependency only (Debian 12 ships testpmd
	# in dpdk-dev, not in dpdk): installed here, not by scripts/deps.sh.
	[ "$(id -u)" = 0 ] && apt-get install -y -q dpdk-dev >/dev/null 2>&1 || true
	command -v dpdk-testpmd >/dev/null || { echo "fwd.sh: dpdk-testpmd missing (apt-get install dpdk-dev)"; exit 1; }
fi
ncpu=$(nproc)
SRV_CPU=$((ncpu > 1 ? 1 : 0)) DRV_CPU=0
T=$(mktemp -d /tmp/ward-net-bench.XXXXXX)
chmod 755 "$T"
srv='' feeder=''
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null
	[ -n "$feeder" ] && kill "$feeder" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
wait_sock() { for _ in $(seq 600); do [ -S "$1" ] && return 0; sleep 0.05; done; echo "fwd.sh: no socket $1"; exit 1; }
stop_srv() { kill -INT "$srv"; wait "$srv" 2>/dev/null || true; srv=''; [ -n "$feeder" ] && kill "$feeder" 2>/dev/null; feeder=''; }

A=02:00:00:00:01:0a,10.0.1.10 Bq=02:00:00:00:01:14,10.0.1.20
cat >"$T/vpc.json" <<EOF
{"version": 1, "vpcs": [{"id": "vpc-a", "cidr": "10.0.0.0/16"}],
 "subnets": [{"id": "subnet-a1", "vpc": "vpc-a", "cidr": "10.0.1.0/24"}],
 "security_groups": [{"id": "sg-default", "vpc": "vpc-a",
   "ingress": [{"proto": "all", "sg": "sg-default"}], "egress": [{"proto": "all", "cidr": "0.0.0.0/0"}]}],
 "enis": [{"id": "eni-a", "subnet": "subnet-a1", "mac": "02:00:00:00:01:0a", "ip": "10.0.1.10", "security_groups": ["sg-default"]},
          {"id": "eni-b", "subnet": "subnet-a1", "mac": "02:00:00:00:01:14", "ip": "10.0.1.20", "security_groups": ["sg-default"]}]}
EOF

declare -A R
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$srv/stat"; }
run_sizes() { # NAME S0 S1
	for sz in 64 1514 9015; do
		local lat=()
		[ $sz = 64 ] && lat=(--lat "$LAT_N")
		c0=$(cpu_ticks)
		out=$(taskset -c $DRV_CPU "$LOAD" --tx "$2" --rx "$3" --size $sz --seconds "$SECS" \
			--src $A --dst $Bq "${lat[@]}" | tr '\n' ' ')
		R[$1,$sz,pps]=$(sed -n 's/.* pps=\([0-9.]*\).*/\1/p' <<<"$out")
		R[$1,$sz,gbps]=$(sed -n 's/.* gbps=\([0-9.]*\).*/\1/p' <<<"$out")
		# The server's own CPU time over the run: ward-net sleeps in
		# poll() when idle, testpmd's forwarding lcore always spins.
		R[$1,$sz,cpu]=$(awk -v a="$c0" -v b="$(cpu_ticks)" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')
		R[$1,$sz,frames]=$(sed -n 's/.*recv=\([0-9]*\).*/\1/p' <<<"$out")
		if [ $sz = 64 ]; then
			R[$1,$sz,frames]=$((R[$1,$sz,frames] + LAT_N))
			R[$1,p50]=$(sed -n 's/.*lat_p50_us=\([0-9.]*\).*/\1/p' <<<"$out")
			R[$1,p99]=$(sed -n 's/.*lat_p99_us=\([0-9.]*\).*/\1/p' <<<"$out")
		fi
	done
}

taskset -c $SRV_CPU "$WARD_NET" --config "$T/vpc.json" --eni eni-a="$T/a.sock" --eni eni-b="$T/b.sock" 2>"$T/ward-net.log" &
srv=$!
wait_sock "$T/b.sock"
run_sizes wardnet "$T/a.sock" "$T/b.sock"
stop_srv

# testpmd reads stdin for "Press enter to exit": a held pipe keeps it up.
mkfifo "$T/stdin"
sleep 3600 >"$T/stdin" & feeder=$!
taskset -c $DRV_CPU,$SRV_CPU dpdk-testpmd -l $DRV_CPU,$SRV_CPU --main-lcore $DRV_CPU --no-huge -m 512 --no-pci \
	--file-prefix "ward-bench-$$" --vdev "net_vhost0,iface=$T/s0,queues=1" --vdev "net_vhost1,iface=$T/s1,queues=1" \
	-- --forward-mode=io --auto-start --nb-cores=1 --rxq=1 --txq=1 --rxd=1024 --txd=1024 \
	--total-num-mbufs=32768 --mbuf-size=2176 <"$T/stdin" >"$T/testpmd.log" 2>&1 &
srv=$!
wait_sock "$T/s1"
run_sizes testpmd "$T/s0" "$T/s1"
stop_srv

ratio=$(awk -v a="${R[wardnet,64,pps]}" -v b="${R[testpmd,64,pps]}" 'BEGIN { printf "%.2f", a / b }')
printf 'same-host forwarding, %s s per size, server on CPU %s, frontend on CPU %s\n' "$SECS" $SRV_CPU $DRV_CPU
printf '%-10s %12s %11s %11s %10s %10s %14s\n' server 64B_pps 1514B_gbps 9015B_gbps p50_us p99_us 64B_pps/cpu_s
json=""
for n in wardnet testpmd; do
	R[$n,ppc]=$(awk -v f="${R[$n,64,frames]}" -v c="${R[$n,64,cpu]}" 'BEGIN { printf "%.0f", (c > 0 ? f / c : 0) }')
	printf '%-10s %12.0f %11s %11s %10s %10s %14s\n' $n "${R[$n,64,pps]}" "${R[$n,1514,gbps]}" "${R[$n,9015,gbps]}" \
		"${R[$n,p50]}" "${R[$n,p99]}" "${R[$n,ppc]}"
	json+="${json:+,}\"$n\":{\"pps_64\":${R[$n,64,pps]},\"gbps_1514\":${R[$n,1514,gbps]},\"gbps_9015\":${R[$n,9015,gbps]},\"lat_p50_us\":${R[$n,p50]},\"lat_p99_us\":${R[$n,p99]},\"pps_per_cpu_s\":${R[$n,ppc]},\"cpu_s\":{\"64\":${R[$n,64,cpu]},\"1514\":${R[$n,1514,cpu]},\"9015\":${R[$n,9015,cpu]}}}"
done
mkdir -p "$(dirname "$OUT_JSON")"
printf '{"secs":%s,%s,"ratio_pps":%s}\n' "$SECS" "$json" "$ratio" >"$OUT_JSON"
echo "net_vs_ref_pps=$ratio"
