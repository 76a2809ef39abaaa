#!/usr/bin/env bash
# real-kernel: runs the loader test on Debian's stock kernel (test_boot_real
# KERNEL); skipped (77) when no kernel can be obtained.
set -uo pipefail
here=$(dirname "$0")
out=$("$here/fetch-kernel.sh" "$WARD_BUILD_ROOT/tests/hv/boot/kernel-cache")
rc=$?
if [ $rc -ne 0 ]; then
	echo "$out"
	exit $rc
fi
echo "kernel: $out"
exec "$1" "$out"
