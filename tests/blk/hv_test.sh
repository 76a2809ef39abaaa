#!/usr/bin/env bash
# hv_test: the guest kit's blk-check under ward-hv with ward-blk as its
# vhost-user-blk backend: the whole ward stack on the storage path.
. "$(dirname "$0")/lib.sh"
ELF=$B/guest/blk-check.elf
HV=$B/src/hv/ward-hv
[ -f "$ELF" ] || fail "$ELF is missing: the guest kit did not build it"
[ -x "$HV" ] || fail "$HV is missing: the build did not produce ward-hv"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"
mkkey "$T/key"
start_blk "$T/blk.log" --socket "$T/s" --backing "$T/disk" --size 16M --key-file "$T/key" --create
wait_sock "$T/s"
set +e
timeout -k 5 90 "$HV" --kernel "$ELF" --memory 64 --blk "$T/s" >"$T/guest.log" 2>"$T/hv.log" </dev/null
rc=$?
set -e
cat "$T/guest.log"
[ "$rc" -eq 0 ] || fail "ward-hv exit status $rc, want 0 (blk-check ok)"
grep -q 'blk-check: ok' "$T/guest.log" || fail "blk-check did not report ok"
cmp -s -n 4096 "$T/disk" /dev/zero && fail "the guest's first sector never reached the backing file"
kill -0 "$BLK_PID" || fail "ward-blk died"
# The production wiring: ward-blk in controller mode gets the volume, key and
# one end of a socketpair over blkctl; ward-hv gets the other end (--blk-fd).
truncate -s 16M "$T/disk2"
set +e
timeout -k 5 90 "$DRIVER" --spawn-ctl "$WARD_BLK" --backing "$T/disk2" --size $((16<<20)) --key-file "$T/key" \
	handoff "$HV" --kernel "$ELF" --memory 64 >"$T/guest2.log" 2>"$T/hv2.log" </dev/null
rc=$?
set -e
cat "$T/guest2.log"
[ "$rc" -eq 0 ] || fail "controller-mode wiring: exit status $rc"
grep -q 'blk-check: ok' "$T/guest2.log" || fail "blk-check (controller mode) did not report ok"
echo PASS
