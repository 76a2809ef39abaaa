#!/usr/bin/env bash
# real-kernel: runs the loader test on Debian's stock kernel and on the
# uncompressed vmlinux inside it (test_boot_real VMLINUZ VMLINUX); skipped
# (77) only when no kernel can be obtained (no /boot/vmlinuz-*, no Debian
# archive), failed when the vmlinux cannot be extracted from it.
set -uo pipefail
here=$(dirname "$0")
cache=$WARD_BUILD_ROOT/tests/hv/boot/kernel-cache
for what in bzimage vmlinux; do
	out=$("$here/fetch-kernel.sh" "$cache" "$what")
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "$out"
		exit $rc
	fi
	echo "$what: $out"
	printf -v "path_$what" %s "$out"
done
exec "$1" "$path_bzimage" "$path_vmlinux"
