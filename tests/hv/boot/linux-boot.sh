#!/usr/bin/env bash
# linux-boot: boots Debian's stock kernel under ward-hv with a one-program
# initramfs and waits for its marker. Needs KVM that runs guest ring 0
# natively: checked first with the guest kit's r0loop (~2M ring-0
# instructions); where ring 0 is emulated (kvm_pvm) Linux would take hours,
# so the test is skipped (77). See docs/hv-boot.md.
set -uo pipefail

build=${WARD_BUILD_ROOT:?WARD_BUILD_ROOT not set}
here=$(cd "$(dirname "$0")" && pwd)
hv=$build/src/hv/ward-hv
r0loop=$build/guest/r0loop.elf
marker=WARD-LINUX-BOOT-OK
skip() { echo "SKIP: $*"; exit 77; }

[ -e /dev/kvm ] || skip "no /dev/kvm"
[ -x "$hv" ] || skip "$hv is not built"
[ -f "$r0loop" ] || skip "$r0loop is not built"

# 1. Does this host's KVM run guest ring 0 natively? (WARD_LINUX_BOOT_FORCE=1
# boots anyway, for debugging the later steps.)
t0=$(date +%s.%N)
timeout 120 "$hv" --kernel "$r0loop" --memory 64 --vcpus 1 >/dev/null 2>&1
rc=$?
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
[ $rc -eq 0 ] || skip "r0loop did not run under ward-hv (exit $rc after $secs s)"
if [ "${WARD_LINUX_BOOT_FORCE:-0}" != 1 ] &&
	awk -v s="$secs" 'BEGIN { exit !(s > 1.0) }'; then
	skip "KVM on this host emulates guest ring 0 (r0loop took $secs s); Linux boot needs native KVM"
fi
echo "r0loop: $secs s"

# 2. The stock kernel (cached in the build dir).
kernel=$("$here/fetch-kernel.sh" "$build/tests/hv/boot/kernel-cache")
rc=$?
if [ $rc -ne 0 ]; then
	echo "$kernel"
	exit $rc
fi

# 3. Initramfs: a static /init that prints the marker and exits the VM.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/dev" "$tmp/root/proc" "$tmp/root/sys"
gcc -static -O2 -o "$tmp/root/init" "$here/linux-init.c" ||
	skip "cannot build a static /init (gcc -static, libc6-dev)"
(cd "$tmp/root" && find . | cpio -o -H newc --quiet) | gzip -9 > "$tmp/initrd" ||
	skip "cannot build the initramfs (cpio, gzip)"

# 4. Boot.
echo "booting $kernel"
timeout "${WARD_LINUX_BOOT_TIMEOUT:-300}" "$hv" --kernel "$kernel" --initrd "$tmp/initrd" \
	--cmdline "console=ttyS0 earlyprintk=serial panic=-1 reboot=t rdinit=/init" \
	--memory 512 --vcpus 2 > "$tmp/console" 2>&1
rc=$?
if grep -q "$marker" "$tmp/console"; then
	grep -E "Linux version|smpboot|Run /init|$marker" "$tmp/console"
	echo "PASS: Linux reached /init under ward-hv (exit $rc)"
	exit 0
fi
tail -60 "$tmp/console"
echo "FAIL: no $marker on the console (ward-hv exit $rc)"
exit 1
