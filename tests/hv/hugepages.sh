#!/usr/bin/env bash
# Guest memory on hugepages (ward-hv --hugepages 2M|1G): one case per call.
# usage: hugepages.sh CASE   (WARD_BUILD_ROOT points at the build directory)
#
# The host's 2 MiB pool is a global setting, so every case takes one lock,
# grows the pool by what it needs and puts it back as it found it.
set -uo pipefail
case_name=$1
B=${WARD_BUILD_ROOT:?}
HV=$B/src/hv/ward-hv
G=$B/guest
POOL=/sys/kernel/mm/hugepages/hugepages-2048kB
T=$(mktemp -d)
ORIG_NR=

cleanup() {
	local p
	for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ -n "$ORIG_NR" ] && echo "$ORIG_NR" >"$POOL/nr_hugepages"
	rm -rf "$T"
}
trap cleanup EXIT

die() { echo "FAIL: $*"; for f in "$T"/*.out "$T"/*.err "$T"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
free_pages() { cat "$POOL/free_hugepages"; }
# Pages no one holds: free minus those reserved by a mapping not yet
# faulted in (guest RAM is reserved at mmap and populated on first touch).
avail_pages() { echo $(( $(cat "$POOL/free_hugepages") - $(cat "$POOL/resv_hugepages") )); }

[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable here"
[ -d "$POOL" ] || skip "this kernel has no 2 MiB hugepage pool"
exec 8>/tmp/ward-hugepages.lock
flock 8

# reserve N: grow the pool so that N more pages are free than now.
reserve() {
	[ -w "$POOL/nr_hugepages" ] || skip "cannot size the hugepage pool (needs root)"
	ORIG_NR=$(cat "$POOL/nr_hugepages")
	local want=$(( $(free_pages) + $1 ))
	echo $(( ORIG_NR + $1 )) >"$POOL/nr_hugepages"
	[ "$(free_pages)" -ge "$want" ] ||
		skip "the kernel gave only $(free_pages) of $want free 2 MiB pages (memory too fragmented)"
}

# run_hv NAME EXPECTED_STATUS ARGS...
run_hv() {
	local name=$1 want=$2; shift 2
	timeout 60 "$HV" "$@" >"$T/$name.out" 2>"$T/$name.err"
	local rc=$?
	[ "$rc" -eq "$want" ] || die "ward-hv $* exited $rc, expected $want"
}

case "$case_name" in
live)
	# A running guest's RAM is one hugetlb memfd: the pool's available
	# pages shrink by exactly its size (reserved at start, populated as
	# touched), the mapping uses 2 MiB pages, nothing is swappable, and
	# every page goes back to the pool when the VM stops.
	reserve 8
	before=$(avail_pages)
	"$HV" --kernel "$G/spin.elf" --memory 16 --hugepages 2M >"$T/spin.out" 2>"$T/spin.err" &
	pid=$!
	for _ in $(seq 100); do grep -q "spin: running" "$T/spin.out" && break; sleep 0.1; done
	grep -q "spin: running" "$T/spin.out" || die "spin did not start"
	used=$(( before - $(avail_pages) ))
	[ "$used" -eq 8 ] || die "16 MiB of guest RAM took $used 2 MiB pages from the pool, want 8"
	awk '/memfd:ward-guest-ram/ {m=1} m && /^KernelPageSize:/ {print $2; exit}' \
		"/proc/$pid/smaps" >"$T/pagesize"
	[ "$(cat "$T/pagesize")" = 2048 ] || die "guest RAM mapped with $(cat "$T/pagesize") kB pages, want 2048"
	awk '/memfd:ward-guest-ram/ {m=1} m && /^VmFlags:/ {print; exit}' "/proc/$pid/smaps" >"$T/flags"
	grep -qw ht "$T/flags" || die "guest RAM mapping is not hugetlb: $(cat "$T/flags")"
	grep -qw dd "$T/flags" || die "guest RAM would appear in a core dump: $(cat "$T/flags")"
	grep -qw mg "$T/flags" && die "guest RAM is KSM-mergeable: $(cat "$T/flags")"
	kill -TERM "$pid"
	wait "$pid"
	[ "$(avail_pages)" -eq "$before" ] || die "pool has $(avail_pages) available pages after stop, had $before" ;;
next-tenant)
	# Hugepages are recycled through the host's pool: tenant B, started on
	# the pages tenant A just filled, must see only zeroes. memcheck first
	# proves it can catch its own pattern.
	reserve 32
	run_hv selftest 0 --kernel "$G/memcheck.elf" --memory 64 --hugepages 2M --cmdline mode=selftest
	run_hv dirty 0 --kernel "$G/memcheck.elf" --memory 64 --hugepages 2M --cmdline mode=dirty
	run_hv scan 0 --kernel "$G/memcheck.elf" --memory 64 --hugepages 2M --cmdline mode=scan
	grep -q "all zero" "$T/scan.out" || die "scan did not report all zero" ;;
blk)
	# A card maps hugetlb guest memory too: blk-check through ward-blk.
	reserve 32
	head -c 64 /dev/urandom >"$T/key"
	"$B/src/blk/ward-blk" --socket "$T/s" --backing "$T/disk" --size 16M --key-file "$T/key" \
		--create >"$T/blk.log" 2>&1 &
	for _ in $(seq 200); do [ -S "$T/s" ] && break; sleep 0.05; done
	[ -S "$T/s" ] || die "ward-blk socket did not appear"
	run_hv blkcheck 0 --kernel "$G/blk-check.elf" --memory 64 --hugepages 2M --blk "$T/s"
	grep -q "blk-check: ok" "$T/blkcheck.out" || die "blk-check did not report ok" ;;
refused)
	# Every refusal is a setup error (125) with a sentence that says why,
	# and takes nothing from the pool.
	before=$(free_pages)
	run_hv badsize 125 --kernel "$G/hello.elf" --memory 17 --hugepages 2M
	grep -q "not a multiple of the 2 MiB hugepage size" "$T/badsize.err" || die "no reason for 17 MiB"
	run_hv bad1g 125 --kernel "$G/hello.elf" --memory 512 --hugepages 1G
	grep -q "not a multiple of the 1 GiB hugepage size" "$T/bad1g.err" || die "no reason for 512 MiB on 1G"
	run_hv badval 125 --kernel "$G/hello.elf" --memory 16 --hugepages 4M
	grep -q "must be 2M or 1G" "$T/badval.err" || die "no reason for 4M"
	# One page more than the pool has free: refused at start with the
	# pool's numbers, never a SIGBUS later.
	[ "$before" -lt 1024 ] || skip "the pool has $before free pages; asking for more is too big a VM"
	need=$(( before < 2 ? 2 : before + 1 ))
	run_hv short 125 --kernel "$G/hello.elf" --memory $(( need * 2 )) --hugepages 2M
	grep -q "needs $need free 2 MiB hugepages, the host pool has $before" "$T/short.err" ||
		die "no reason naming the pool: $(cat "$T/short.err")"
	[ "$(free_pages)" -eq "$before" ] || die "a refused start left pages reserved" ;;
*)
	echo "unknown case $case_name"; exit 2 ;;
esac
echo PASS
