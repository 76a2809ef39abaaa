#!/usr/bin/env bash
# Interop tests of ward-hv's vhost-user frontend: the guest kit's blk-check
# guest under ward-hv against real and broken vhost-user backends.
# usage: interop.sh CASE   (WARD_BUILD_ROOT points at the build directory)
set -uo pipefail
case_name=$1
NEED=(guest/blk-check.elf guest/hello.elf guest/spin.elf)
. "$(dirname "$0")/lib.sh"
G=$B/guest

# The backend must be listening before ward-hv connects: wait for the
# socket (qemu-storage-daemon may take seconds, e.g. for LUKS), not a sleep.
wait_sock() {
	for _ in $(seq 200); do
		[ -S "$1" ] && return 0
		kill -0 "$BPID" 2>/dev/null || die "backend exited before listening"
		sleep 0.05
	done
	die "backend socket $1 did not appear within 10 s"
}

run_hv() { # EXPECTED ARGS... ; EXPECTED "nonzero" accepts any failure but a hang
	local want=$1; shift
	timeout 60 "$HV" "$@" >"$T/out" 2>"$T/err"
	local rc=$?
	[ "$rc" -eq 124 ] && die "ward-hv hung (killed after 60 s): $*"
	if [ "$want" = nonzero ]; then
		[ "$rc" -ne 0 ] || die "ward-hv $* succeeded, expected a failure"
	else
		[ "$rc" -eq "$want" ] || die "ward-hv $* exited $rc, expected $want"
	fi
}

case "$case_name" in
blk-qsd)
	command -v qemu-storage-daemon >/dev/null || skip "qemu-storage-daemon is not installed"
	truncate -s 16M "$T/img"
	qemu-storage-daemon \
		--blockdev driver=file,node-name=f,filename="$T/img" \
		--export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$T/sock",writable=on \
		>"$T/backend.log" 2>&1 &
	BPID=$!
	wait_sock "$T/sock"
	run_hv 0 --kernel "$G/blk-check.elf" --blk "$T/sock"
	grep -q "blk-check: ok" "$T/out" || die "guest did not report ok"
	# The guest's patterns must be in the file: word i of a sector is
	# (sector << 20 | i) ^ salt ^ K, so w[i] ^ w[0] == i, and the last
	# sector's word 0 differs from sector 0's by (last << 20).
	/usr/bin/python3 - "$T/img" <<'PY' || die "guest data did not reach the image"
import struct, sys
f = open(sys.argv[1], "rb")
def sector(n):
    f.seek(n * 512)
    return struct.unpack("<64Q", f.read(512))
first, last = sector(0), sector(32767)
assert any(first), "sector 0 is still zero"
for s in (first, last):
    for i, w in enumerate(s):
        assert w ^ s[0] == i, f"word {i}: {w:#x} vs {s[0]:#x}"
assert first[0] ^ last[0] == 32767 << 20, "last sector holds another sector's pattern"
PY
	;;
backend-dies-in-handshake)
	# A backend that answers GET_FEATURES and then dies.
	/usr/bin/python3 - "$T/sock" >"$T/backend.log" 2>&1 <<'PY' &
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
req, flags, size = struct.unpack("<III", c.recv(12))
assert req == 1, f"first request {req}, expected GET_FEATURES"
c.sendall(struct.pack("<IIIQ", 1, 0x5, 8, (1 << 32) | (1 << 30)))
c.recv(12)
c.close()
PY
	BPID=$!
	wait_sock "$T/sock"
	run_hv nonzero --kernel "$G/hello.elf" --blk "$T/sock"
	grep -q "vhost-user blk backend closed the connection during GET_PROTOCOL_FEATURES" "$T/err" ||
		die "no error naming the backend and the step"
	;;
backend-without-version1)
	/usr/bin/python3 - "$T/sock" >"$T/backend.log" 2>&1 <<'PY' &
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
while True:
    h = c.recv(12)
    if len(h) < 12:
        break
    req, flags, size = struct.unpack("<III", h)
    if size:
        c.recv(size)
    if req == 1:        # GET_FEATURES: a legacy-only device
        c.sendall(struct.pack("<IIIQ", 1, 0x5, 8, 1 << 28))
PY
	BPID=$!
	wait_sock "$T/sock"
	run_hv nonzero --kernel "$G/hello.elf" --blk "$T/sock"
	grep -q "does not offer VIRTIO_F_VERSION_1" "$T/err" || die "no error naming VERSION_1"
	;;
backend-dies-while-running)
	# The card goes away under a running VM: the device is marked broken
	# and logged, the VM keeps running and still stops cleanly.
	command -v qemu-storage-daemon >/dev/null || skip "qemu-storage-daemon is not installed"
	truncate -s 1M "$T/img"
	qemu-storage-daemon \
		--blockdev driver=file,node-name=f,filename="$T/img" \
		--export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$T/sock",writable=on \
		>"$T/backend.log" 2>&1 &
	BPID=$!
	wait_sock "$T/sock"
	"$HV" --kernel "$G/spin.elf" --blk "$T/sock" >"$T/out" 2>"$T/err" &
	HVPID=$!
	for _ in $(seq 200); do grep -q "spin: running" "$T/out" && break; sleep 0.05; done
	grep -q "spin: running" "$T/out" || { kill -9 $HVPID; die "guest did not start"; }
	kill -9 "$BPID"; wait "$BPID" 2>/dev/null; BPID=
	for _ in $(seq 100); do grep -q "backend disconnected" "$T/err" && break; sleep 0.05; done
	grep -q "vhost-user backend disconnected" "$T/err" || { kill -9 $HVPID; die "disconnect not reported"; }
	sleep 0.3
	kill -0 $HVPID 2>/dev/null || die "ward-hv exited when its backend died"
	kill -TERM $HVPID
	wait $HVPID; rc=$?
	[ "$rc" -eq 143 ] || die "ward-hv exited $rc on SIGTERM after the disconnect, expected 143"
	;;
*)
	die "unknown case $case_name" ;;
esac
echo "ok: $case_name"
