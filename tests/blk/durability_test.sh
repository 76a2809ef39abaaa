#!/usr/bin/env bash
# durability_test: a write completed before a FLUSH survives kill -9 of
# ward-blk; a restarted ward-blk with the same key reattaches and the data is
# intact. A wrong key reads garbage, not the data (no silent fallback).
. "$(dirname "$0")/lib.sh"
mkkey "$T/key"
start_blk "$T/blk1.log" --socket "$T/s" --backing "$T/disk" --size 16M --key-file "$T/key" --create
wait_sock "$T/s"
"$DRIVER" --socket "$T/s" write 10 100 d0d0 flush || fail "write+flush"
kill -9 "$BLK_PID"
wait "$BLK_PID" 2>/dev/null || true
start_blk "$T/blk2.log" --socket "$T/s" --backing "$T/disk" --size 16M --key-file "$T/key"
wait_sock "$T/s"
"$DRIVER" --socket "$T/s" verify 10 100 d0d0 || fail "data lost across kill -9"
kill -9 "$BLK_PID"
mkkey "$T/key2"
start_blk "$T/blk3.log" --socket "$T/s" --backing "$T/disk" --size 16M --key-file "$T/key2"
wait_sock "$T/s"
if "$DRIVER" --socket "$T/s" verify 10 1 d0d0 >/dev/null 2>&1; then fail "another key decrypted the data"; fi
echo PASS
