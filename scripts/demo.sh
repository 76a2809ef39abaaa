#!/usr/bin/env bash
# `make demo`: the main job, end to end, on this machine. Each step prints
# what it shows. Grows with every capability (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
B=build
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. ward-hv boots the hello guest (PVH ELF) in a fresh KVM VM"
echo "\$ ward-hv --kernel $B/guest/hello.elf --memory 32"
set +e
"$B/src/hv/ward-hv" --kernel "$B/guest/hello.elf" --memory 32
rc=$?
set -e
echo "(ward-hv exited with the guest's debug-exit value: $rc)"
[ "$rc" -eq 0 ]

if [ -x "$B/src/blk/ward-blk" ] && [ -f "$B/guest/blk-check.elf" ]; then
	step "2. An encrypted volume: ward-blk (AES-256-XTS) serves blk-check under ward-hv"
	bash scripts/demo-volume.sh "$B"
fi
echo
echo "demo complete"
