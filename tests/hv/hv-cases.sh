#!/usr/bin/env bash
# Integration tests of ward-hv with the guest kit: one case per invocation.
# usage: hv-cases.sh CASE   (WARD_BUILD_ROOT points at the build directory)
set -uo pipefail
case_name=$1
B=${WARD_BUILD_ROOT:?}
HV=$B/src/hv/ward-hv
G=$B/guest
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT

[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is not usable here"; exit 77; }

die() { echo "FAIL: $*"; echo "--- stdout"; cat "$T/out" 2>/dev/null; echo "--- stderr"; cat "$T/err" 2>/dev/null; exit 1; }

# run_hv EXPECTED_STATUS ARGS... : runs ward-hv with a timeout, checks status
run_hv() {
	local want=$1; shift
	timeout 60 "$HV" "$@" >"$T/out" 2>"$T/err"
	local rc=$?
	[ "$rc" -eq 124 ] && die "ward-hv hung (killed after 60 s): $*"
	[ "$rc" -eq "$want" ] || die "ward-hv $* exited $rc, expected $want"
}

expect_out() { grep -q -- "$1" "$T/out" || die "stdout lacks '$1'"; }
expect_err() { grep -q -- "$1" "$T/err" || die "stderr lacks '$1'"; }

case "$case_name" in
hello)
	run_hv 0 --kernel "$G/hello.elf"
	expect_out "hello from guest" ;;
smp)
	run_hv 0 --kernel "$G/smp.elf" --vcpus 2 --cmdline "smp=2"
	expect_out "smp" ;;
triple-fault)
	# Native KVM reports KVM_EXIT_SHUTDOWN; where KVM emulates ring 0 the
	# same guest ends in an emulation failure. Either way: status 126 and
	# a message naming the crash and the vCPU.
	run_hv 126 --kernel "$G/triple-fault.elf"
	grep -qE "triple fault|emulation failed" "$T/err" || die "no message naming the crash"
	expect_err "on vCPU 0" ;;
reject-missing-file)
	run_hv 125 --kernel "$T/nope.elf"
	expect_err "cannot open kernel" ;;
reject-empty-file)
	: >"$T/empty"
	run_hv 125 --kernel "$T/empty"
	expect_err "1 byte to 1 GiB" ;;
reject-garbage)
	head -c 65536 /dev/urandom >"$T/garbage"
	run_hv 125 --kernel "$T/garbage"
	expect_err "kernel" ;;
reject-truncated-elf)
	head -c 200 "$G/hello.elf" >"$T/trunc.elf"
	run_hv 125 --kernel "$T/trunc.elf"
	grep -qiE "ELF|beyond|truncat" "$T/err" || die "no message naming the ELF problem" ;;
reject-old-bzimage)
	# A setup header that says "HdrS" with boot protocol 2.10 (0x020a).
	/usr/bin/python3 - "$T/old.bz" <<'PY'
import struct, sys
img = bytearray(64 * 1024)
img[0x1f1] = 4                      # setup_sects
img[0x1fe:0x200] = b"\x55\xaa"
img[0x202:0x206] = b"HdrS"
struct.pack_into("<H", img, 0x206, 0x020a)
open(sys.argv[1], "wb").write(img)
PY
	run_hv 125 --kernel "$T/old.bz"
	expect_err "2.12" ;;
reject-memory-zero)
	run_hv 125 --kernel "$G/hello.elf" --memory 0
	expect_err "memory" ;;
reject-memory-too-big)
	run_hv 125 --kernel "$G/hello.elf" --memory 1073741824
	expect_err "more than this host has" ;;
reject-unknown-option)
	run_hv 125 --kernel "$G/hello.elf" --frobnicate
	expect_err "unknown option" ;;
reject-vcpus-zero)
	run_hv 125 --kernel "$G/hello.elf" --vcpus 0
	expect_err "vcpus" ;;
reject-bad-cpus)
	run_hv 125 --kernel "$G/hello.elf" --cpus 9999
	expect_err "cpus" ;;
reject-missing-backend)
	run_hv 125 --kernel "$G/hello.elf" --blk "$T/no-such.sock"
	expect_err "cannot connect to vhost-user backend" ;;
pin-and-memory)
	# A live VM: vCPU threads are pinned as asked, guest RAM is one memfd.
	cpu=$(( $(nproc) - 1 ))
	"$HV" --kernel "$G/spin.elf" --cpus "$cpu" >"$T/out" 2>"$T/err" &
	pid=$!
	for _ in $(seq 100); do grep -q "spin: running" "$T/out" && break; sleep 0.1; done
	expect_out "spin: running"
	pinned=0
	for st in /proc/$pid/task/*/status; do
		grep -q "^Cpus_allowed_list:[[:space:]]*$cpu\$" "$st" && pinned=$((pinned + 1))
	done
	[ "$pinned" -ge 1 ] || die "no ward-hv thread pinned to CPU $cpu"
	grep -q "memfd:ward-guest-ram" "/proc/$pid/maps" || die "guest RAM is not the memfd"
	kill -TERM "$pid"
	wait "$pid"; rc=$?
	[ "$rc" -eq $((128 + 15)) ] || die "SIGTERM should stop ward-hv with status 143, got $rc" ;;
sandbox-live)
	# A live, locked-down ward-hv: seccomp on every thread (vCPUs stacked a
	# second filter), no_new_privs, no capabilities, unprivileged uid, an
	# empty root, no inherited fd beyond the ones it was given.
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: namespaces and uid drop need root"; exit 77; }
	exec 9>"$T/leaked-fd"
	"$HV" --kernel "$G/spin.elf" --vcpus 2 --uid 4242 --gid 4243 >"$T/out" 2>"$T/err" &
	pid=$!
	exec 9>&-
	for _ in $(seq 100); do grep -q "spin: running" "$T/out" && break; sleep 0.1; done
	expect_out "spin: running"
	st=/proc/$pid/status
	grep -q "^Seccomp:[[:space:]]*2" "$st" || die "not in seccomp filter mode"
	grep -q "^NoNewPrivs:[[:space:]]*1" "$st" || die "no_new_privs not set"
	grep -q "^CapEff:[[:space:]]*0000000000000000" "$st" || die "capabilities left: $(grep Cap "$st")"
	grep -q "^CapBnd:[[:space:]]*0000000000000000" "$st" || die "bounding set not empty"
	grep -qE "^Uid:[[:space:]]+4242[[:space:]]+4242[[:space:]]+4242" "$st" || die "uid not dropped: $(grep Uid "$st")"
	grep -qE "^Gid:[[:space:]]+4243" "$st" || die "gid not dropped"
	[ -z "$(ls -A "/proc/$pid/root/")" ] || die "root is not empty: $(ls -A /proc/$pid/root/)"
	[ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/self/ns/net)" ] || die "shares our network namespace"
	[ "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] || die "shares our mount namespace"
	for fd in /proc/$pid/fd/*; do
		[ "$(readlink "$fd")" != "$T/leaked-fd" ] || die "inherited fd 9 was not closed"
	done
	vcpus=0
	for t in /proc/$pid/task/*; do
		comm=$(cat "$t/comm")
		case "$comm" in kvm-*) continue ;; esac  # KVM's kernel worker
		grep -q "^Seccomp:[[:space:]]*2" "$t/status" || die "thread $comm is not filtered"
		case "$comm" in vcpu*)
			grep -q "^Seccomp_filters:[[:space:]]*2" "$t/status" || die "$comm lacks its own filter"
			vcpus=$((vcpus + 1)) ;;
		esac
	done
	[ "$vcpus" -eq 2 ] || die "expected 2 vCPU threads, found $vcpus"
	kill -TERM "$pid"; wait "$pid" ;;
sandbox-forbidden-vmm|sandbox-forbidden-vcpu)
	# Test builds: the named thread kind tries socket(2) after lockdown and
	# the whole process must die of SIGSYS (128 + 31).
	kind=${case_name#sandbox-forbidden-}
	WARD_HV_TEST_FORBIDDEN=$kind run_hv 159 --kernel "$G/spin.elf"
	expect_err "test hook: $kind thread attempts socket()"
	grep -q "NOT blocked" "$T/err" && die "socket() was not blocked" ;;
sandbox-heap-vmm|sandbox-heap-vcpu)
	# Ordinary malloc/free churn on a locked-down thread must not reach a
	# syscall the filter kills (glibc trims thread arenas lazily, reading
	# /proc/sys/vm/overcommit_memory): the guest runs to its end.
	kind=${case_name#sandbox-heap-}
	WARD_HV_TEST_FORBIDDEN=$kind/heap run_hv 0 --kernel "$G/hello.elf"
	expect_err "test hook: $kind thread heap churn survived"
	expect_out "hello from guest" ;;
sandbox-late-vcpu)
	# A vCPU thread that starts late (loaded host) still names and pins
	# itself before the VMM filter goes on: vcpus_start waits for it.
	WARD_HV_TEST_FORBIDDEN=vcpu-start/slow run_hv 0 --kernel "$G/smp.elf" --vcpus 2 \
		--cmdline "smp=2" --cpus 0,$(( $(nproc) - 1 ))
	expect_err "test hook: vcpu-start is slow"
	expect_out "smp" ;;
cmdline-env)
	# Controller mode keeps the guest's command line out of argv.
	WARD_GUEST_CMDLINE="console=x quiet" run_hv 0 --kernel "$G/hello.elf" --cmdline-env
	expect_out 'hello from guest (cmdline "console=x quiet")'
	env -u WARD_GUEST_CMDLINE timeout 60 "$HV" --kernel "$G/hello.elf" --cmdline-env >"$T/out" 2>"$T/err"
	[ $? -eq 125 ] || die "--cmdline-env without the variable should exit 125"
	expect_err "WARD_GUEST_CMDLINE is not set" ;;
sched-core-cookies)
	# Where the kernel offers core scheduling: every thread of a burstable
	# ward-hv carries one cookie (PR_SCHED_CORE_GET), two burstable
	# instances carry different ones, and a fixed instance (whole cores of
	# its own) none. Kernels without CONFIG_SCHED_CORE refuse the cookie,
	# which sched-burstable checks is reported.
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: reading another process's cookie needs root"; exit 77; }
	cat >"$T/cookie.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PR_SCHED_CORE, GET, CREATE, PIDTYPE_PID, PIDTYPE_TGID = 62, 0, 1, 0, 1
if sys.argv[1] == "probe":
    pid = os.fork()
    if pid == 0:
        os._exit(0 if libc.prctl(PR_SCHED_CORE, CREATE, 0, PIDTYPE_TGID, 0) == 0 else 1)
    sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
cookies = set()
for tid in os.listdir(f"/proc/{sys.argv[1]}/task"):
    c = ctypes.c_ulong(0)
    if libc.prctl(PR_SCHED_CORE, GET, int(tid), PIDTYPE_PID, ctypes.byref(c)) != 0:
        sys.exit(f"PR_SCHED_CORE_GET on {tid}: errno {ctypes.get_errno()}")
    cookies.add(c.value)
print(" ".join(map(str, sorted(cookies))))
PY
	python3 "$T/cookie.py" probe || { echo "SKIP: this kernel offers no core scheduling (no CONFIG_SCHED_CORE or no SMT); sched-burstable checks the refusal is reported"; exit 77; }
	"$HV" --kernel "$G/spin.elf" --vcpus 2 --sched burstable >"$T/a.out" 2>"$T/a.err" &
	a=$!
	"$HV" --kernel "$G/spin.elf" --vcpus 2 --sched burstable >"$T/b.out" 2>"$T/b.err" &
	b=$!
	"$HV" --kernel "$G/spin.elf" --sched fixed >"$T/f.out" 2>"$T/f.err" &
	f=$!
	for _ in $(seq 100); do grep -q "spin: running" "$T/a.out" && grep -q "spin: running" "$T/b.out" &&
		grep -q "spin: running" "$T/f.out" && break; sleep 0.1; done
	ca=$(python3 "$T/cookie.py" "$a") || die "cannot read instance a's cookies: $ca"
	cb=$(python3 "$T/cookie.py" "$b") || die "cannot read instance b's cookies: $cb"
	cf=$(python3 "$T/cookie.py" "$f") || die "cannot read the fixed instance's cookies: $cf"
	kill "$a" "$b" "$f"; wait
	[[ "$ca" =~ ^[1-9][0-9]*$ ]] || die "burstable instance a: threads carry cookies '$ca', want one non-zero"
	[[ "$cb" =~ ^[1-9][0-9]*$ ]] || die "burstable instance b: threads carry cookies '$cb', want one non-zero"
	[ "$ca" != "$cb" ] || die "two burstable instances share cookie $ca"
	[ "$cf" = 0 ] || die "the fixed instance carries a cookie ($cf)" ;;
sched-burstable)
	# Burstable instances ask for every side-channel control; what this host
	# refuses must be reported (the probe in tests/lib/test_cpupart checks
	# the same controls). Bad values are rejected.
	run_hv 0 --kernel "$G/hello.elf" --sched burstable
	expect_out "hello from guest"
	if grep -q "burstable instance:" "$T/err"; then
		grep -qE "refused" "$T/err" || die "refusal reported without naming the control"
	fi
	run_hv 125 --kernel "$G/hello.elf" --sched sometimes
	expect_err "fixed or burstable" ;;
*)
	echo "unknown case $case_name"; exit 2 ;;
esac
echo "PASS: $case_name"
