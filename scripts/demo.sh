#!/usr/bin/env bash
# `make demo`: the main job, end to end, on this machine. Each step prints
# what it shows. Grows with every capability (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
B=build
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Every part of the demo boots a guest. Say so plainly where KVM is missing
# (some machines are themselves PVM guests: the kvm module does not bind).
if ! [ -c /dev/kvm ] || ! { exec 3<>/dev/kvm; } 2>/dev/null; then
	echo "make demo: this machine has no usable /dev/kvm, and every step of the demo boots a guest." >&2
	dmesg 2>/dev/null | grep -m1 -i "kvm.*not binding" >&2 || true
	echo "Run it on a host with KVM. Here, \`make test\` runs everything that needs no guest (README.md)." >&2
	exit 1
fi
exec 3>&-

step "1. ward-hv boots the hello guest (PVH ELF) in a fresh KVM VM"
echo "\$ ward-hv --kernel $B/guest/hello.elf --memory 32"
set +e
"$B/src/hv/ward-hv" --kernel "$B/guest/hello.elf" --memory 32
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
