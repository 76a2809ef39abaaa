#!/usr/bin/env bash
# Isolation checks that act like an attacker or an operator: tenants never
# see each other's memory, guest memory is never shared or merged, and an
# operator's uid cannot read a running VMM's memory.
# usage: isolation.sh CASE   (WARD_BUILD_ROOT points at the build directory)
set -uo pipefail
case_name=$1
B=${WARD_BUILD_ROOT:?}
HV=$B/src/hv/ward-hv
G=$B/guest
T=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is not usable here"; exit 77; }
die() { echo "FAIL: $*"; exit 1; }

# start_spin NAME: a running VM; its pid in $SPIN_PID. Not to be called in
# $(...): the pid must be recorded in this shell so cleanup can kill it.
start_spin() {
	"$HV" --kernel "$G/spin.elf" --memory 32 --uid 4242 --gid 4242 >"$T/$1.out" 2>"$T/$1.err" &
	SPIN_PID=$!
	pids+=("$SPIN_PID")
	for _ in $(seq 100); do grep -q "spin: running" "$T/$1.out" && break; sleep 0.1; done
	grep -q "spin: running" "$T/$1.out" || die "$1 did not start: $(cat "$T/$1.err")"
}

guest_ram_inode() { # pid -> inode of the guest-RAM memfd mapping
	awk '/memfd:ward-guest-ram/ {print $5; exit}' "/proc/$1/maps"
}

case "$case_name" in
memory-zero-for-next-tenant)
	# The scanner must be able to fail: it has to catch its own pattern.
	timeout 60 "$HV" --kernel "$G/memcheck.elf" --memory 64 --cmdline mode=selftest >"$T/o" 2>&1 \
		|| die "memcheck selftest did not catch its own pattern: $(cat "$T/o")"
	# Tenant A fills all of its RAM; tenant B, started right after on the
	# same host, must see only zeroes.
	timeout 60 "$HV" --kernel "$G/memcheck.elf" --memory 64 --cmdline mode=dirty >"$T/o" 2>&1 \
		|| die "dirtying tenant failed: $(cat "$T/o")"
	timeout 60 "$HV" --kernel "$G/memcheck.elf" --memory 64 --cmdline mode=scan >"$T/o" 2>&1 \
		|| die "next tenant saw old data: $(cat "$T/o")"
	grep -q "all zero" "$T/o" || die "scan did not report" ;;
no-shared-or-merged-memory)
	start_spin a; a=$SPIN_PID
	start_spin b; b=$SPIN_PID
	ia=$(guest_ram_inode "$a"); ib=$(guest_ram_inode "$b")
	[ -n "$ia" ] && [ -n "$ib" ] || die "guest RAM memfd mapping not found"
	[ "$ia" != "$ib" ] || die "two instances map the same memfd inode $ia"
	# No other process maps either instance's guest memory.
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = "$a" ] || [ "$pid" = "$b" ] && continue
		grep -qE "memfd:ward-guest-ram \(deleted\)$" "$p/maps" 2>/dev/null &&
			awk -v i="$ia" -v j="$ib" '$5==i || $5==j {found=1} END {exit !found}' "$p/maps" &&
			die "process $pid maps an instance's guest memory"
	done
	for pid in $a $b; do
		# VmFlags "mg" would mean MADV_MERGEABLE (KSM candidate).
		awk '/memfd:ward-guest-ram/ {m=1} m && /^VmFlags:/ {print; exit}' "/proc/$pid/smaps" >"$T/flags"
		grep -q " mg" "$T/flags" && die "guest memory of $pid is KSM-mergeable"
		grep -q " dd" "$T/flags" || die "guest memory of $pid is not excluded from core dumps"
		if [ -r "/proc/$pid/ksm_stat" ]; then
			awk '/ksm_merging_pages/ && $2 != 0 {exit 1}' "/proc/$pid/ksm_stat" || die "KSM merged pages of $pid"
		fi
	done ;;
operator-cannot-read-vmm)
	command -v setpriv >/dev/null || { echo "SKIP: setpriv missing"; exit 77; }
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root to act as another uid"; exit 77; }
	start_spin op; pid=$SPIN_PID
	as_op() { setpriv --reuid 5000 --regid 5000 --clear-groups "$@"; }
	as_op cat "/proc/$pid/mem" >/dev/null 2>&1 && die "operator read /proc/$pid/mem"
	as_op cat "/proc/$pid/environ" >/dev/null 2>&1 && die "operator read /proc/$pid/environ"
	as_op /usr/bin/python3 - "$pid" <<'PY' || die "operator could process_vm_readv / ptrace ward-hv"
import ctypes, sys
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buf = ctypes.create_string_buffer(64)
maps_ok = True
local = iovec(ctypes.cast(buf, ctypes.c_void_p), 64)
remote = iovec(0x400000, 64)
n = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
if n >= 0:
    sys.exit("process_vm_readv succeeded")
PTRACE_ATTACH = 16
if libc.ptrace(PTRACE_ATTACH, pid, 0, 0) == 0:
    sys.exit("ptrace attach succeeded")
PY
	grep -q "^State:" "/proc/$pid/status" || die "VM died during the attempts" ;;
*)
	echo "unknown case $case_name"; exit 2 ;;
esac
echo "PASS: $case_name"
