#!/usr/bin/env bash
# driver_test: the userspace frontend writes, flushes, reads back and
# verifies through ward-blk (standalone and controller mode); hostile but
# well-formed requests get error statuses; a read-only volume refuses writes;
# DETACH over the control channel succeeds.
. "$(dirname "$0")/lib.sh"
mkkey "$T/key"
start_blk "$T/blk.log" --volume id=vol-a,socket=$T/a.sock,backing=$T/a.img,size=32M,key-file=$T/key,create,queues=2
wait_sock "$T/a.sock"
"$DRIVER" --socket "$T/a.sock" write 0 300 1 write 1000 40 2 flush verify 0 300 1 verify 1000 40 2 getid bad-requests rmw \
	| tee "$T/d1.out" || fail "write/verify through ward-blk"
grep -q "id: vol-a" "$T/d1.out" || fail "GET_ID did not return the volume id"
# A second connection after the first closed sees the same data.
"$DRIVER" --socket "$T/a.sock" verify 0 300 1 || fail "reconnect and verify"
# WRITE_ZEROES and DISCARD read back as zeroes; the neighbours are intact.
"$DRIVER" --socket "$T/a.sock" zeroes 10 5 discard 100 3 verify 0 10 1 verify 15 85 1 verify 103 197 1 \
	|| fail "write-zeroes / discard"
# Read-only volume over the same backing.
start_blk "$T/ro.log" --volume id=vol-ro,socket=$T/ro.sock,backing=$T/a.img,size=32M,key-file=$T/key,readonly
wait_sock "$T/ro.sock"
"$DRIVER" --socket "$T/ro.sock" verify 1000 40 2 expect-write-error || fail "read-only volume"
# Controller mode: the driver plays the controller - it opens the store and
# passes its fd with the key and the vhost-user socket over blkctl; I/O, DETACH.
truncate -s 16M "$T/c.img"
out=$("$DRIVER" --spawn-ctl "$WARD_BLK" --backing "$T/c.img" --size 0 --key-file "$T/key" write 0 1 1 2>&1 || true)
grep -q "size 0 must be" <<<"$out" || fail "ATTACH with size 0 was not refused with a reason: $out"
"$DRIVER" --spawn-ctl "$WARD_BLK" --backing "$T/c.img" --size $((16<<20)) --key-file "$T/key" \
	write 0 64 7 flush verify 0 64 7 detach | tee "$T/d2.out" || fail "controller-mode attach/io/detach"
grep -q "detach: detached, key destroyed" "$T/d2.out" || fail "DETACH reply"
# A read-only volume gets (and must get) an O_RDONLY store fd.
"$DRIVER" --spawn-ctl "$WARD_BLK" --readonly --backing "$T/c.img" --size $((16<<20)) --key-file "$T/key" \
	verify 0 64 7 expect-write-error >/dev/null || fail "controller-mode read-only volume"
out=$("$DRIVER" --spawn-ctl "$WARD_BLK" --readonly --wrong-mode --backing "$T/c.img" --size $((16<<20)) \
	--key-file "$T/key" verify 0 1 7 2>&1 || true)
grep -q "is open read-write, a read-only volume needs O_RDONLY" <<<"$out" || fail "read-write fd for a read-only volume was not refused: $out"
# A store smaller than the volume is refused with both sizes.
out=$("$DRIVER" --spawn-ctl "$WARD_BLK" --backing "$T/c.img" --size $((32<<20)) --key-file "$T/key" write 0 1 1 2>&1 || true)
grep -q "has 16777216 bytes, volume needs 33554432" <<<"$out" || fail "short store was not refused: $out"
# Reads land in the guest's buffers and are decrypted in place: sectors that
# straddle guest buffers (split at 512-byte boundaries) on both paths; a write
# leaves the guest's buffers unaltered (checked by every write above too).
"$DRIVER" --socket "$T/a.sock" split 2000 3 verify 2000 4 3 || fail "requests over split guest buffers"
# The same on a tmpfs store: buffered (not O_DIRECT), and refusing
# RWF_NOWAIT, so every transfer goes through io_uring's workers.
start_blk "$T/shm.log" --volume id=vol-s,socket=$T/s.sock,backing=$SHM/s.img,size=8M,key-file=$T/key,create
wait_sock "$T/s.sock"
SHM_PID=$BLK_PID
grep -q 'store=file$' "$T/shm.log" || fail "the tmpfs store is not buffered: $(grep attached "$T/shm.log")"
"$DRIVER" --socket "$T/s.sock" write 0 600 5 verify 0 600 5 split 10 6 verify 10 4 6 verify 0 10 5 \
	verify 14 586 5 || fail "tmpfs store"
# A read that fails part-way (test hook: the store tears the last transfer)
# leaves zeroes in the guest's buffer: no ciphertext, no plaintext.
# Both store kinds: O_DIRECT, and buffered tmpfs.
for store in "$T/a.img:1 1" "$SHM/s.img:1 5"; do
	img=${store%%:*} check=${store#*:}
	WARD_BLK_TEST_TORN_READ=1 start_blk "$T/torn.log" \
		--volume id=vol-t,socket=$T/t.sock,backing=$img,size=8M,key-file=$T/key,readonly
	wait_sock "$T/t.sock"
	if "$DRIVER" --socket "$T/t.sock" torn 0 16 verify 0 $check >"$T/torn.out" 2>&1; then
		grep -q "test hook: torn read" "$T/torn.log" || fail "torn read passed without the test hook firing"
	elif grep -q "the torn read did not fail" "$T/torn.out" && ! grep -q "test hook" "$T/torn.log"; then
		echo "torn-read check not run: ward-blk was built without test hooks (-Dtest_hooks=false)"
	else
		cat "$T/torn.out"; fail "a failed read left data in the guest's buffer ($img)"
	fi
	kill "$BLK_PID"; wait "$BLK_PID" 2>/dev/null || true; rm -f "$T/t.sock"
done
kill -0 "$SHM_PID" || fail "ward-blk died"
echo PASS
