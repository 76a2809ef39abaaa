#!/usr/bin/env bash
# virtio-net end to end under ward-hv: the guest kit's net-check sends
# frames through the vhost-user frontend to vu-net-echo, which loops them
# back; `corrupt` has the backend flip one byte of the 7th echo and expects
# the guest to catch it (exit 4). usage: net-echo.sh echo|corrupt
set -uo pipefail
case_name=$1
NEED=(tests/hv/virtio/vu-net-echo guest/net-check.elf)
. "$(dirname "$0")/lib.sh"
ECHO=$B/tests/hv/virtio/vu-net-echo
GUEST=$B/guest/net-check.elf
MAC=52:54:00:77:61:72   # vu-net-echo's config

start_echo() {
	"$ECHO" "$@" "$T/sock" >"$T/backend.log" 2>&1 &
	BPID=$!
	for _ in $(seq 200); do
		[ -S "$T/sock" ] && return 0
		kill -0 "$BPID" 2>/dev/null || die "vu-net-echo exited before listening"
		sleep 0.05
	done
	die "vu-net-echo socket did not appear within 10 s"
}

# The backend serves one frontend and exits when it hangs up: 0 unless a
# ring broke (or, in the ASan build, a sanitizer report).
wait_echo() {
	for _ in $(seq 100); do
		kill -0 "$BPID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$BPID" 2>/dev/null && die "vu-net-echo still running after ward-hv exited"
	wait "$BPID"
	local rc=$?
	BPID=
	[ "$rc" -eq 0 ] || die "vu-net-echo exited $rc"
}

run_guest() { # EXPECTED_STATUS
	timeout 60 "$HV" --kernel "$GUEST" --net "$T/sock" --memory 32 >"$T/out" 2>"$T/err"
	local rc=$?
	[ "$rc" -eq 124 ] && die "ward-hv hung (killed after 60 s)"
	[ "$rc" -eq "$1" ] || die "ward-hv exited $rc, expected $1"
}

case "$case_name" in
echo)
	start_echo
	run_guest 0
	grep -q "net-check: ok: 32 frames" "$T/out" || die "guest did not report 32 frames ok"
	# The MAC reached the guest through GET_CONFIG and the device config.
	grep -q "net-check: device .*mac=$MAC" "$T/out" || die "guest did not see the backend's MAC $MAC"
	wait_echo
	grep -q "frames=32 dropped=0 queued=0 broken=no" "$T/backend.log" ||
		die "backend did not echo exactly 32 frames"
	;;
corrupt)
	start_echo --corrupt 7
	run_guest 4
	grep -q "net-check: frame 6 ([0-9]* bytes): byte [0-9]* is" "$T/out" ||
		die "guest did not name the corrupted frame (seq 6)"
	grep -q "net-check: ok" "$T/out" && die "guest reported ok despite the corruption"
	wait_echo
	;;
*)
	echo "unknown case $case_name"; exit 2
	;;
esac
echo "PASS: $case_name"
