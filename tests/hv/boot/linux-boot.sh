#!/usr/bin/env bash
# linux-boot.sh vmlinux|bzimage: boots Debian's stock kernel under ward-hv
# with a one-program initramfs and waits for its marker. `vmlinux` boots the
# uncompressed ELF inside the bzImage through the PVH entry, so the result
# does not hang on the decompressor; `bzimage` boots the file as shipped.
# Linux needs exceptions it raises in ring 0 (int3, #PF) delivered to its own
# IDT: the guest kit's r0trap checks that first, and the test is skipped
# (77) with the probe's reason where this host's KVM cannot. See
# docs/hv-boot.md.
set -uo pipefail

kind=${1:?usage: linux-boot.sh vmlinux|bzimage}
build=${WARD_BUILD_ROOT:?WARD_BUILD_ROOT not set}
here=$(cd "$(dirname "$0")" && pwd)
hv=$build/src/hv/ward-hv
r0trap=$build/guest/r0trap.elf
r0loop=$build/guest/r0loop.elf
marker=WARD-LINUX-BOOT-OK
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

case $kind in vmlinux|bzimage) ;; *) fail "unknown kernel kind $kind" ;; esac
for f in "$hv" "$r0trap" "$r0loop"; do
	[ -e "$f" ] || fail "$f is missing: the build did not produce it"
done
[ -e /dev/kvm ] || skip "no /dev/kvm on this machine: Linux under ward-hv needs KVM"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable by $(id -un)"

# 1. How fast this host runs guest ring 0: information only, never a
# verdict (a host that emulates ring 0 quickly still cannot boot Linux).
t0=$(date +%s.%N)
timeout 120 "$hv" --kernel "$r0loop" --memory 32 --vcpus 1 >/dev/null 2>&1
rc=$?
t1=$(date +%s.%N)
echo "r0loop (2M ring-0 instructions, information only): exit $rc after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"

# 2. The capability: exceptions raised in guest ring 0 reach the guest's
# IDT. WARD_LINUX_BOOT_FORCE=1 boots anyway, to debug the later steps.
# shellcheck source=r0trap-probe.sh
. "$here/r0trap-probe.sh"
r0trap_probe "$hv" "$r0trap"
rc=$?
case $rc in
0) echo "r0trap: $R0TRAP_REASON" ;;
1|3)
	if [ "${WARD_LINUX_BOOT_FORCE:-0}" = 1 ]; then
		echo "r0trap: $R0TRAP_REASON (WARD_LINUX_BOOT_FORCE=1: booting anyway)"
	else
		skip "this host's KVM does not deliver exceptions raised in guest ring 0 to the guest's IDT (r0trap: $R0TRAP_REASON); Linux needs that"
	fi ;;
*)
	echo "$R0TRAP_LOG"
	fail "the r0trap probe gave no defined outcome: $R0TRAP_REASON" ;;
esac

# 3. The stock kernel, or the vmlinux inside it (cached in the build dir).
kernel=$("$here/fetch-kernel.sh" "$build/tests/hv/boot/kernel-cache" "$kind")
rc=$?
if [ $rc -ne 0 ]; then
	echo "$kernel"
	exit $rc
fi

# 4. Initramfs: a static /init that prints the marker and exits the VM.
# The tools are build dependencies (scripts/deps.sh): missing ones fail.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/dev" "$tmp/root/proc" "$tmp/root/sys"
gcc -static -O2 -o "$tmp/root/init" "$here/linux-init.c" ||
	fail "cannot build a static /init (gcc -static needs libc6-dev)"
(cd "$tmp/root" && find . | cpio -o -H newc --quiet) | gzip -9 > "$tmp/initrd" ||
	fail "cannot build the initramfs (cpio, gzip)"

# 5. Boot.
echo "booting $kind $kernel"
timeout "${WARD_LINUX_BOOT_TIMEOUT:-300}" "$hv" --kernel "$kernel" --initrd "$tmp/initrd" \
	--cmdline "console=ttyS0 earlyprintk=serial panic=-1 reboot=t rdinit=/init" \
	--memory 512 --vcpus 2 > "$tmp/console" 2>&1
rc=$?
if grep -q "$marker" "$tmp/console"; then
	grep -E "Linux version|smpboot|Run /init|$marker" "$tmp/console"
	echo "PASS: Linux ($kind) reached /init under ward-hv (exit $rc)"
	exit 0
fi
tail -60 "$tmp/console"
fail "no $marker on the console after booting the $kind (ward-hv exit $rc)"
