#!/usr/bin/env bash
# qemu_test: QEMU as a real vhost-user client. qemu-system-x86_64 -M microvm
# with vhost-user-blk-pci (shared memfd memory) against ward-blk boots the
# guest kit's blk-check, which writes, flushes and verifies sectors; the
# backing file then holds only ciphertext of what the guest wrote. Two
# queues, so QEMU negotiates MQ and sets up both rings.
. "$(dirname "$0")/lib.sh"
ELF=$B/guest/blk-check.elf
[ -f "$ELF" ] || fail "$ELF is missing: the guest kit did not build it"
# KVM when /dev/kvm is usable, else QEMU's TCG: the frontend under test is
# QEMU's vhost-user-blk, which works the same either way.
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then ACCEL=(-enable-kvm -cpu EPYC); else ACCEL=(-accel tcg -cpu max); fi
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
mkkey "$T/key"
start_blk "$T/blk.log" --socket "$T/s" --backing "$T/disk" --size 16M --key-file "$T/key" --create --queues 2
wait_sock "$T/s"
set +e
timeout -k 5 90 qemu-system-x86_64 -M microvm,pcie=on "${ACCEL[@]}" -m 64 \
	-nographic -no-reboot -nodefaults -serial stdio \
	-device isa-debug-exit,iobase=0xf4,iosize=4 \
	-object memory-backend-memfd,id=mem,size=64M,share=on -machine memory-backend=mem \
	-chardev socket,id=c,path="$T/s" -device vhost-user-blk-pci,chardev=c,disable-legacy=on,num-queues=2 \
	-kernel "$ELF" >"$T/guest.log" 2>"$T/qemu.log" </dev/null
rc=$?
set -e
cat "$T/guest.log"
[ "$rc" -eq 1 ] || fail "QEMU exit status $rc, want 1 (blk-check exit 0)"
grep -q 'blk-check: ok' "$T/guest.log" || fail "blk-check did not report ok"
cmp -s -n 4096 "$T/disk" /dev/zero && fail "the guest's first sector never reached the backing file"
kill -0 "$BLK_PID" || fail "ward-blk died"
echo PASS
