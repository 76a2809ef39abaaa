#!/usr/bin/env bash
# nbd_test: a volume on an NBD export (nbdkit file plugin over a unix socket).
# The guest's data round-trips, and the server's storage holds only
# ciphertext: grep finds no plaintext pattern in it. Standalone (URI,
# connected before lockdown) and controller mode (connected socket passed).
. "$(dirname "$0")/lib.sh"
command -v nbdkit >/dev/null || skip "nbdkit is not installed"
mkkey "$T/key"
truncate -s 16M "$T/export.img"
nbdkit --foreground --unix "$T/nbd.sock" file "$T/export.img" >"$T/nbdkit.log" 2>&1 &
PIDS+=($!)
wait_sock "$T/nbd.sock"
start_blk "$T/blk.log" --socket "$T/s" --backing "nbd+unix:///?socket=$T/nbd.sock" --size 16M --key-file "$T/key"
wait_sock "$T/s"
"$DRIVER" --socket "$T/s" write 0 200 a1 flush verify 0 200 a1 || fail "I/O over NBD"
"$DRIVER" --socket "$T/s" verify 0 200 a1 || fail "reconnect over NBD"
if grep -q WARD-PLAINTEXT "$T/export.img"; then fail "nbdkit's storage contains plaintext"; fi
/usr/bin/python3 "$S/tests/blk/xts_interop.py" "$T/key" "$T/export.img" 0:200:a1 || fail "NBD storage is not the expected ciphertext"
# Controller mode: the controller connects the NBD socket and passes it;
# ward-blk (no network of its own) does the handshake over it.
"$DRIVER" --spawn-ctl "$WARD_BLK" --backing "nbd+unix:///?socket=$T/nbd.sock" --size $((16<<20)) \
	--key-file "$T/key" verify 0 200 a1 write 300 50 b2 flush verify 300 50 b2 detach >"$T/ctl.out" 2>&1 \
	|| { cat "$T/ctl.out"; fail "controller-mode NBD"; }
grep -q "detach: detached, key destroyed" "$T/ctl.out" || fail "controller-mode NBD detach"
/usr/bin/python3 "$S/tests/blk/xts_interop.py" "$T/key" "$T/export.img" 300:50:b2 || fail "controller-mode NBD ciphertext"
echo PASS
