#!/usr/bin/env bash
# nbd_test: a volume on an NBD export (nbdkit file plugin over a unix socket).
# The guest's data round-trips, and the server's storage holds only
# ciphertext: grep finds no plaintext pattern in it.
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
echo PASS
