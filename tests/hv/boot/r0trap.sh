#!/usr/bin/env bash
# r0trap.sh MODE: tests the capability probe the Linux boot tests rest on.
#   ward-hv   r0trap under ward-hv must end in one of its defined outcomes
#             (delivered, or not delivered with the reason named), never a
#             hang, a set-up failure or an unknown status.
#   qemu-tcg  r0trap under QEMU's TCG, which delivers ring-0 exceptions like
#             hardware, must pass: the probe is not one that always fails.
#             Each single probe (trap=int3, trap=pf) too, and a bad trap=
#             value must give its own exit value.
set -uo pipefail

mode=${1:?usage: r0trap.sh ward-hv|qemu-tcg}
B=${WARD_BUILD_ROOT:?WARD_BUILD_ROOT not set (run through meson test)}
here=$(cd "$(dirname "$0")" && pwd)
elf=$B/guest/r0trap.elf
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ -f "$elf" ] || fail "$elf is missing: the guest kit did not build it"

case $mode in
ward-hv)
	hv=$B/src/hv/ward-hv
	[ -x "$hv" ] || fail "$hv is missing"
	[ -e /dev/kvm ] || skip "no /dev/kvm on this machine: ward-hv needs KVM"
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable by $(id -un)"
	# shellcheck source=r0trap-probe.sh
	. "$here/r0trap-probe.sh"
	r0trap_probe "$hv" "$elf"
	rc=$?
	echo "$R0TRAP_LOG"
	case $rc in
	0) echo "PASS: exceptions in guest ring 0 are delivered here: $R0TRAP_REASON" ;;
	1) echo "PASS: exceptions in guest ring 0 are not delivered here (Linux boot tests will skip): $R0TRAP_REASON" ;;
	3) fail "probe hung: $R0TRAP_REASON" ;;
	*) fail "probe gave no defined outcome: $R0TRAP_REASON" ;;
	esac
	exit 0 ;;
qemu-tcg)
	command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 is missing (scripts/deps.sh installs qemu-system-x86)"
	t=$(mktemp -d)
	trap 'rm -rf "$t"' EXIT
	# run CMDLINE WANT_VALUE LINE_REGEX: QEMU exits (value << 1) | 1.
	run() {
		timeout -k 5 120 qemu-system-x86_64 -M microvm -accel tcg -cpu max -m 64 \
			-nographic -no-reboot -nodefaults -serial stdio \
			-device isa-debug-exit,iobase=0xf4,iosize=4 \
			-kernel "$elf" -append "$1" >"$t/out" 2>"$t/err" </dev/null
		local rc=$? want=$((($2 << 1) | 1))
		cat "$t/out"
		[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "QEMU TCG did not finish r0trap '$1' in 120 s"
		[ "$rc" -eq "$want" ] || { cat "$t/err"; fail "r0trap '$1' under TCG: QEMU status $rc, want $want (value $2)"; }
		grep -Eq "$3" "$t/out" || fail "r0trap '$1' under TCG: no line matching /$3/"
	}
	run "" 0 '^r0trap: ok: .*\(both\)'
	grep -q '^r0trap: int3 delivered' "$t/out" || fail "no int3 line in the full run"
	grep -q '^r0trap: #PF delivered (cr2=0x140000008 err=0x0' "$t/out" || fail "no #PF line in the full run"
	run "trap=int3" 0 '^r0trap: ok: .*\(int3\)'
	run "trap=pf" 0 '^r0trap: ok: .*\(pf\)'
	run "trap=nmi" 5 '^r0trap: trap=nmi: want int3, pf or both'
	echo "PASS: r0trap passes under QEMU TCG, where ring-0 exceptions are delivered" ;;
*)
	fail "unknown mode $mode" ;;
esac
