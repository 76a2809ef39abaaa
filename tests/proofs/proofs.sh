#!/usr/bin/env bash
# tests/proofs: the Frama-C analyses of the parsers of untrusted input
# (proofs/, docs/proofs.md), with their seeded bugs: fails on any alarm,
# any newly unproved goal, or a seeded bug the analysis misses.
set -euo pipefail
exec "${WARD_SOURCE_ROOT:?}/scripts/proofs.sh" --seed
