#!/usr/bin/env bash
# `make demo`: the main job, end to end, on this machine. Each step prints
# what it shows. Grows with every capability (see README.md).
# The output teaches (issue 16 §6): the build is one summary line (its full
# log is shown only on failure), colour only on a terminal, every command is
# printed so it can be pasted (the environment it needs is printed once),
# and refusals the demo expects are printed on stdout as such.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD="" PLAIN=""; fi
step() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }

# Every part of the demo boots a guest. Say so plainly where KVM is missing
# (some machines are themselves PVM guests: the kvm module does not bind),
# before building anything.
if ! [ -c /dev/kvm ] || ! { exec 3<>/dev/kvm; } 2>/dev/null; then
	echo "make demo: this machine has no usable /dev/kvm, and every step of the demo boots a guest." >&2
	dmesg 2>/dev/null | grep -m1 -i "kvm.*not binding" >&2 || true
	echo "Run it on a host with KVM. Here, \`make test\` runs everything that needs no guest (README.md)." >&2
	exit 1
fi
exec 3>&-

# build_quietly: the default build (no fault-injection hooks), one line
# when it works, the log when it does not.
build_quietly() {
	local log=$B/demo-build.log t0=$SECONDS
	mkdir -p "$B"
	if ! {
		[ -f "$B/build.ninja" ] || meson setup "$B"
		[ "$(scripts/test_hooks.sh "$B")" = false ] || meson configure "$B" -Dtest_hooks=false
		ninja -C "$B"
	} >"$log.new" 2>&1; then
		mv "$log.new" "$log"
		echo "build FAILED; the last 100 lines of its log ($log):"
		tail -n 100 "$log"
		exit 1
	fi
	mv "$log.new" "$log"
	echo "build: $(grep -c '^\[[0-9]*/[0-9]*\]' "$log") steps in $((SECONDS - t0)) s, ok (log: $log)"
}
build_quietly

B=$(cd "$B" && pwd)
echo "The commands below are printed as they run; to paste one, first:"
echo "  export B=$B"
echo "(each part prints the rest of the environment its commands need, once)"

step "1. ward-hv boots the hello guest (PVH ELF) in a fresh KVM VM"
echo "\$ \$B/src/hv/ward-hv --kernel \$B/guest/hello.elf --memory 32M"
set +e
"$B/src/hv/ward-hv" --kernel "$B/guest/hello.elf" --memory 32M
rc=$?
set -e
echo "(ward-hv exited with the guest's debug-exit value: $rc)"
[ "$rc" -eq 0 ]

step "2. Measured and verified boot, an instance through the mTLS API, tamper detection, the audit log"
bash scripts/demo-boot.sh "$B"

if [ -f scripts/demo-volume.sh ]; then
	step "3. An encrypted volume: KMS grant, forward access session, key sealed to the host's TPM, ward-blk (AES-256-XTS)"
	bash scripts/demo-volume.sh "$B"
fi
echo
echo "demo complete"
