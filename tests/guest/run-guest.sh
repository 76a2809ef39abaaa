#!/usr/bin/env bash
# tests/guest/run-guest.sh CASE: boots one guest-kit image under QEMU microvm
# (the reference VMM) and checks what it printed and its debug-exit status.
# QEMU's exit status is (value << 1) | 1 for a debug-port exit, 0 for a
# guest shutdown (triple fault with -no-reboot). Exit 77 = cannot run here
# (no QEMU); without a usable /dev/kvm, QEMU runs the guest under TCG.
set -uo pipefail

case_name=${1:?usage: run-guest.sh CASE}
build=${WARD_BUILD_ROOT:?WARD_BUILD_ROOT not set (run through meson test)}
gdir=$build/guest

skip() { echo "SKIP: $*"; exit 77; }
fail() {
	echo "FAIL [$case_name]: $*"
	for f in "$tmp"/*.out "$tmp"/*.err; do
		[ -s "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
	done
	exit 1
}

# KVM when /dev/kvm is usable, else QEMU's TCG (-cpu max): these cases
# check the guest kit and QEMU, which runs either way; no skip for want of KVM.
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	ACCEL=(-enable-kvm -cpu EPYC)
else
	ACCEL=(-accel tcg -cpu max)
fi
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"

tmp=$(mktemp -d /tmp/ward-guest.XXXXXX)
qsd_pid=
cleanup() {
	if [ -n "$qsd_pid" ]; then
		kill "$qsd_pid" 2>/dev/null
		wait "$qsd_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

QEMU=(qemu-system-x86_64 -M microvm,pcie=on "${ACCEL[@]}" -m 64
      -nographic -no-reboot -nodefaults -serial stdio
      -device isa-debug-exit,iobase=0xf4,iosize=4)

# run_qemu TIMEOUT NAME IMAGE [qemu args...]: serial output to $tmp/NAME.out,
# QEMU's own stderr (minus CPUID warnings) to $tmp/NAME.err; sets $rc, $secs.
run_qemu() {
	local t=$1 name=$2 image=$3 start end
	shift 3
	[ -f "$gdir/$image.elf" ] || fail "guest image $gdir/$image.elf not built"
	start=$(date +%s.%N)
	timeout -k 5 "$t" "${QEMU[@]}" -kernel "$gdir/$image.elf" "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.raw.err" </dev/null
	rc=$?
	end=$(date +%s.%N)
	secs=$(echo "$end - $start" | bc 2>/dev/null || echo "?")
	grep -v "host doesn't support requested feature" "$tmp/$name.raw.err" >"$tmp/$name.err"
	rm -f "$tmp/$name.raw.err"
	if [ -z "${ALLOW_TIMEOUT:-}" ] && { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; }; then
		fail "QEMU did not finish within ${t}s"
	fi
	return 0
}

expect_exit() { # VALUE: the guest must have written VALUE to port 0xF4
	local want=$(( ($1 << 1) | 1 ))
	[ "$rc" -eq "$want" ] || fail "exit status $rc, want $want (guest exit value $1)"
}

expect_line() { # NAME REGEX
	grep -Eq "$2" "$tmp/$1.out" || fail "no line matching /$2/ in the serial output"
}

# start_qsd IMAGE_MB: qemu-storage-daemon exporting a fresh image as
# vhost-user-blk on $tmp/vhost.sock; waits for the socket, not a fixed sleep.
start_qsd() {
	command -v qemu-storage-daemon >/dev/null || skip "qemu-storage-daemon not installed"
	# Prefilled, not sparse: first writes to holes are much slower.
	dd if=/dev/zero of="$tmp/disk.img" bs=1M count="$1" status=none || fail "cannot create disk image"
	qemu-storage-daemon \
		--blockdev driver=file,node-name=f,filename="$tmp/disk.img" \
		--export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$tmp/vhost.sock",writable=on \
		>"$tmp/qsd.out" 2>"$tmp/qsd.err" &
	qsd_pid=$!
	for _ in $(seq 100); do
		[ -S "$tmp/vhost.sock" ] && return 0
		kill -0 "$qsd_pid" 2>/dev/null || fail "qemu-storage-daemon exited early"
		sleep 0.1
	done
	fail "qemu-storage-daemon socket did not appear within 10 s"
}

VHOST_ARGS=()
vhost_args() {
	VHOST_ARGS=(-object memory-backend-memfd,id=mem,size=64M,share=on
		    -machine memory-backend=mem
		    -chardev socket,id=c,path="$tmp/vhost.sock"
		    -device vhost-user-blk-pci,chardev=c,disable-legacy=on)
}

case $case_name in
hello)
	run_qemu 30 hello hello -append "probe=1"
	expect_exit 0
	expect_line hello 'hello from guest'
	expect_line hello 'probe=1'
	;;
smp)
	run_qemu 60 smp smp -smp 2 -append "smp=2"
	expect_exit 0
	expect_line smp 'smp: 1 of 1 APs up'
	;;
triple-fault)
	run_qemu 30 tf triple-fault
	grep -q 'still alive' "$tmp/tf.out" && fail "guest survived ud2 with an empty IDT"
	grep -q 'KVM internal error' "$tmp/tf.err" && fail "KVM reported an internal error instead of a shutdown"
	expect_line tf 'loading an empty IDT'
	# A triple fault is a shutdown: with -no-reboot QEMU quits with 0,
	# which no debug-port exit can produce.
	[ "$rc" -eq 0 ] || fail "exit status $rc, want 0 (shutdown, not a debug-port exit)"
	;;
r0loop)
	run_qemu 120 r0 r0loop
	expect_exit 0
	expect_line r0 'r0loop: done'
	;;
spin)
	# Must still be running (in ring 3) when the timeout ends it.
	ALLOW_TIMEOUT=1 run_qemu 4 spin spin
	[ "$rc" -eq 124 ] || fail "exit status $rc: the guest stopped, want it spinning until killed"
	expect_line spin 'spin: running'
	;;
blk-check-nodev)
	run_qemu 30 nodev blk-check
	expect_exit 1
	expect_line nodev 'no virtio-blk'
	;;
blk-check)
	start_qsd 16
	vhost_args
	run_qemu 60 blk blk-check "${VHOST_ARGS[@]}"
	expect_exit 0
	expect_line blk 'blk-check: ok'
	expect_line blk 'pci=ecam@0xe0000000'
	# The data must really be in the backing file: the guest wrote a
	# pattern over the last sector of a zeroed image.
	tail -c 512 "$tmp/disk.img" | cmp -s - <(head -c 512 /dev/zero) &&
		fail "last sector of the image is still zero after the guest wrote it"
	cat "$tmp/blk.out"
	;;
blk-check-q35)
	# The ward-hv access path: config space on 0xCF8/0xCFC and BARs the
	# firmware (SeaBIOS here, the host under ward-hv) already assigned.
	start_qsd 16
	vhost_args
	QEMU=("${QEMU[@]/microvm,pcie=on/q35}")
	run_qemu 120 q35 blk-check "${VHOST_ARGS[@]}"
	expect_exit 0
	expect_line q35 'pci=type1'
	expect_line q35 'blk-check: ok'
	grep -q 'bar4=0x0 ' "$tmp/q35.out" && fail "BAR 4 not kept/assigned"
	grep -o 'blk-check: device.*' "$tmp/q35.out"
	;;
bench-blk)
	start_qsd 64
	vhost_args
	for mode in randread randwrite; do
		run_qemu 120 "$mode" bench-blk "${VHOST_ARGS[@]}" \
			-append "mode=$mode bs=4096 qd=16 ops=20000"
		expect_exit 0
		line=$(grep -E '^bench-blk: mode=' "$tmp/$mode.out" | tr -d '\r')
		re='^bench-blk: mode=([a-z]+) bs=([0-9]+) qd=([0-9]+) ops=([0-9]+) bytes=([0-9]+) tsc_cycles=([0-9]+) tsc_khz=([0-9]+)$'
		[[ $line =~ $re ]] || fail "result line does not parse: '$line'"
		[ "${BASH_REMATCH[1]}" = "$mode" ] || fail "mode ${BASH_REMATCH[1]}, want $mode"
		[ "${BASH_REMATCH[2]}" -eq 4096 ] && [ "${BASH_REMATCH[3]}" -eq 16 ] ||
			fail "bs/qd not taken from the command line: '$line'"
		[ "${BASH_REMATCH[4]}" -eq 20000 ] || fail "ops ${BASH_REMATCH[4]}, want 20000"
		[ "${BASH_REMATCH[5]}" -eq $((20000 * 4096)) ] || fail "bytes != ops * bs"
		[ "${BASH_REMATCH[6]}" -gt 0 ] && [ "${BASH_REMATCH[7]}" -gt 0 ] ||
			fail "tsc_cycles/tsc_khz must be positive: '$line'"
		expect_line "$mode" 'cpl=3'
		echo "$line"
		grep -E '^bench-blk: iops=' "$tmp/$mode.out"
	done
	;;
net-check)
	# virtio-net over vhost-user, QEMU as the frontend: the reference for
	# ward-hv's hv-virtio-net-echo (same guest, same echo backend).
	echo_bin=$build/tests/hv/virtio/vu-net-echo
	[ -x "$echo_bin" ] || fail "$echo_bin not built"
	"$echo_bin" "$tmp/vhost.sock" >"$tmp/echo.out" 2>"$tmp/echo.err" &
	qsd_pid=$!
	for _ in $(seq 100); do
		[ -S "$tmp/vhost.sock" ] && break
		kill -0 "$qsd_pid" 2>/dev/null || fail "vu-net-echo exited early"
		sleep 0.1
	done
	run_qemu 60 net net-check -object memory-backend-memfd,id=mem,size=64M,share=on \
		-machine memory-backend=mem -chardev socket,id=c,path="$tmp/vhost.sock" \
		-netdev vhost-user,id=n,chardev=c \
		-device virtio-net-pci,netdev=n,disable-legacy=on,mac=52:54:00:77:61:72
	expect_exit 0
	expect_line net 'net-check: ok: 32 frames'
	expect_line net 'mac=52:54:00:77:61:72'
	# It serves one frontend and exits once QEMU has hung up.
	for _ in $(seq 50); do kill -0 "$qsd_pid" 2>/dev/null || break; sleep 0.1; done
	wait "$qsd_pid" || fail "vu-net-echo exited $? (or still ran 5 s after QEMU)"
	qsd_pid=
	grep -q 'frames=32 dropped=0 queued=0 broken=no' "$tmp/echo.err" ||
		fail "the backend did not echo exactly 32 frames"
	;;
*)
	echo "unknown case '$case_name'"
	exit 2
	;;
esac
echo "PASS [$case_name] (${secs}s)"
