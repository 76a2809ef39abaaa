#!/usr/bin/env bash
# tests/proofs: the Frama-C analyses of the parsers of untrusted input
# (proofs/, docs/proofs.md), with their seeded bugs: fails on any alarm,
# any newly unproved goal, or a seeded bug the analysis misses.
set -euo pipefail
# Seeded bugs of three parsers here (the minimum, the cheap ones
# plus the virtqueue walk); `make proofs` runs all of them.
WARD_PROOFS_SEEDS="vhost_user blkctl virtq" exec "${WARD_SOURCE_ROOT:?}/scripts/proofs.sh" --seed
