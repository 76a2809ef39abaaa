#!/usr/bin/env bash
# xts_interop: an independent AES-XTS implementation (python3-cryptography)
# decrypts ward-blk's backing file with the volume key and finds the guest's
# data at the expected sectors (tweak = 4096-byte sector number, plain64).
# The store is on tmpfs: the buffered, RWF_NOWAIT path (the other tests use
# O_DIRECT stores on /tmp).
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"
mkkey "$T/key"
start_blk "$T/blk.log" --socket "$T/s" --backing "$SHM/disk" --size 8M --key-file "$T/key" --create
wait_sock "$T/s"
# The socket can appear before the attach is logged: wait for the line.
for _ in $(seq 50); do grep -q "volume attached" "$T/blk.log" && break; sleep 0.1; done
grep -qE "store=file$" "$T/blk.log" || fail "expected a buffered (tmpfs) store: $(cat "$T/blk.log")"
"$DRIVER" --socket "$T/s" write 3 5 beef write 2000 2 c0de write 100 300 77 flush verify 100 300 77 || fail "driver"
grep -q WARD-PLAINTEXT "$SHM/disk" && fail "plaintext found in the backing file"
/usr/bin/python3 "$S/tests/blk/xts_interop.py" "$T/key" "$SHM/disk" 3:5:beef 2000:2:c0de 100:300:77 || fail "decrypt interop"
echo PASS
