#!/usr/bin/env bash
# isolation_test: two volumes in one ward-blk. Hostile rings on volume A
# (descriptor loop, out-of-range index/head, address outside memory, length
# overflow) each break only A - the err fd fires, A is reported broken - while
# volume B keeps serving I/O, the process stays up, and A works again after
# the frontend reconnects.
. "$(dirname "$0")/lib.sh"
mkkey "$T/ka"; mkkey "$T/kb"
start_blk "$T/blk.log" --volume id=A,socket=$T/a.sock,backing=$T/a.img,size=16M,key-file=$T/ka,create \
	--volume id=B,socket=$T/b.sock,backing=$T/b.img,size=16M,key-file=$T/kb,create
wait_sock "$T/a.sock"; wait_sock "$T/b.sock"
"$DRIVER" --socket "$T/b.sock" write 3000 100 b0 flush || fail "B initial write"
# B runs a 4-second benchmark while A's rings are broken repeatedly.
"$DRIVER" --socket "$T/b.sock" bench randwrite 8 4096 4 8388608 verify 3000 100 b0 >"$T/b.out" 2>&1 &
BPID=$!
for how in loop next head oob overflow; do
	"$DRIVER" --socket "$T/a.sock" write 0 4 a0 break "$how" || fail "A: ring ($how) was not reported broken"
	kill -0 "$BLK_PID" || fail "ward-blk died on a hostile ring ($how)"
done
wait "$BPID" || { cat "$T/b.out"; fail "volume B stopped working while A was broken"; }
grep -q '"iops"' "$T/b.out" || fail "B benchmark output"
grep -q 'msg="device broken" volume=A' "$T/blk.log" || fail "A was not reported broken"
if grep -q 'msg="device broken" volume=B' "$T/blk.log"; then fail "B was reported broken"; fi
"$DRIVER" --socket "$T/a.sock" verify 0 4 a0 || fail "A did not recover after reconnect"
# Controller mode: the controller receives a BROKEN event for the volume.
truncate -s 16M "$T/c.img"
"$DRIVER" --spawn-ctl "$WARD_BLK" --backing "$T/c.img" --size $((16<<20)) --key-file "$T/ka" \
	write 0 1 c0 break overflow expect-broken-event | tee "$T/ev.out" || fail "no BROKEN event on blkctl"
grep -q "event: volume vol-ctl broken: queue 0" "$T/ev.out" || fail "BROKEN event text"
echo PASS
