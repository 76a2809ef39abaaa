#!/usr/bin/env bash
# missing-build.sh: a binary the build should have made and did not is a
# failed test, never a skip. Runs the integration scripts that start
# ward-hv, guest-kit images, vu-net-echo or the controller against an empty
# build directory and checks each one fails (status 1) naming what is
# missing, before it looks for KVM, QEMU or a kernel (so this holds on
# machines without /dev/kvm too).
set -uo pipefail

S=${WARD_SOURCE_ROOT:?WARD_SOURCE_ROOT not set (run through meson test)}
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
bad=0

# expect_missing DESC COMMAND...: COMMAND must exit 1 with "is missing".
expect_missing() {
	local desc=$1 out rc
	shift
	out=$(cd "$empty" && WARD_BUILD_ROOT=$empty WARD_SOURCE_ROOT=$S timeout 60 "$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "is missing" <<<"$out"; then
		echo "ok: $desc: $(grep -m1 'is missing' <<<"$out")"
	else
		echo "FAIL: $desc: status $rc, want 1 naming the missing file; it said:"
		sed 's/^/    /' <<<"$out" | tail -n 5
		bad=1
	fi
}

expect_missing "blk hv_test" bash "$S/tests/blk/hv_test.sh"
expect_missing "blk qemu_test" bash "$S/tests/blk/qemu_test.sh"
expect_missing "hv-virtio interop" bash "$S/tests/hv/virtio/interop.sh" blk-qsd
expect_missing "hv-virtio net-echo" bash "$S/tests/hv/virtio/net-echo.sh" echo
expect_missing "linux-boot vmlinux" bash "$S/tests/hv/boot/linux-boot.sh" vmlinux
expect_missing "linux-boot bzimage" bash "$S/tests/hv/boot/linux-boot.sh" bzimage
expect_missing "r0trap under ward-hv" bash "$S/tests/hv/boot/r0trap.sh" ward-hv
expect_missing "r0trap under QEMU TCG" bash "$S/tests/hv/boot/r0trap.sh" qemu-tcg
# tests/controller/lib.sh's gates, which tests/attach and tests/security use
expect_missing "controller need" bash -c '. "$WARD_SOURCE_ROOT/tests/controller/lib.sh"; need'
expect_missing "controller need_kvm" bash -c '. "$WARD_SOURCE_ROOT/tests/controller/lib.sh"; need_kvm'

[ "$bad" -eq 0 ] || exit 1
echo "PASS: every script fails on a missing build output"
