# tests/hv/boot/r0trap-probe.sh (sourced): the capability probe Linux boot
# tests rest on. r0trap_probe HV R0TRAP_ELF runs the guest kit's r0trap under
# ward-hv (60 s bound; it needs milliseconds) and classifies the outcome:
#   0  exceptions raised in guest ring 0 reach the guest's own IDT
#   1  they do not: R0TRAP_REASON says how that showed (a handler that did
#      not run, or ward-hv stopping the guest on a KVM internal error or a
#      triple fault while int3 or the #PF was being raised)
#   2  no defined outcome: ward-hv failed to set up, died, or returned a
#      status r0trap does not define (R0TRAP_REASON says which)
#   3  it did not finish within the bound
# R0TRAP_LOG holds the guest console and ward-hv's stderr.
# shellcheck shell=bash

r0trap_probe() {
	local hv=$1 elf=$2 t rc step crash ok
	t=$(mktemp -d) || { R0TRAP_REASON="mktemp failed"; return 2; }
	timeout -k 5 60 "$hv" --kernel "$elf" --memory 32 --vcpus 1 \
		>"$t/out" 2>"$t/err" </dev/null
	rc=$?
	R0TRAP_LOG=$(printf -- '--- console\n%s\n--- ward-hv stderr\n%s\n' \
		"$(cat "$t/out")" "$(cat "$t/err")")
	# The step the guest announced last: the one that never came back.
	step=$(sed -n 's/^r0trap: probing \(int3\|#PF\).*/\1/p' "$t/out" | tail -n 1)
	crash=$(sed -n 's/^ward-hv: \(.*\); stopping the VM$/\1/p' "$t/err" | head -n 1)
	ok=$(grep -c '^r0trap: ok:' "$t/out")
	rm -rf "$t"
	case $rc in
	0)
		if [ "$ok" -eq 1 ]; then
			R0TRAP_REASON="int3 and #PF raised in ring 0 both reached the guest's handlers"
			return 0
		fi
		R0TRAP_REASON="ward-hv exited 0 but r0trap never printed its ok line"
		return 2 ;;
	1) R0TRAP_REASON="int3 in ring 0 went past without the guest's #BP handler running" ;;
	2) R0TRAP_REASON="the guest's #BP handler ran with a wrong frame" ;;
	3) R0TRAP_REASON="a ring-0 read of an unmapped address returned without a #PF" ;;
	4) R0TRAP_REASON="the guest's #PF handler ran with a wrong frame" ;;
	126)
		if [ -z "$step" ]; then
			R0TRAP_REASON="ward-hv stopped the guest before it raised anything (${crash:-no message})"
			return 2
		fi
		R0TRAP_REASON="raising $step in ring 0 stopped the guest: ${crash:-ward-hv reported a crash}" ;;
	124|137)
		R0TRAP_REASON="r0trap did not finish in 60 s${step:+ (last step: $step)}"
		return 3 ;;
	*)
		R0TRAP_REASON="ward-hv exited $rc, which is no outcome r0trap defines"
		return 2 ;;
	esac
	return 1
}
