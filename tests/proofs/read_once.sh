#!/usr/bin/env bash
# tests/proofs: the guest-memory read-once gate (proofs/read_once/check.py,
# docs/proofs.md): passes on virtq.c as it is, and fails on each of three
# copies with a double fetch put in (so the gate sees what it claims to).
set -euo pipefail
src=${WARD_SOURCE_ROOT:?}
check=$src/proofs/read_once/check.py
python3 "$check" "$src"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/lib"
cp -r "$src/src/lib/." "$tmp/src/lib/"
mutant() { # $1: what, $2: sed expression applied to virtq.c
	cp "$src/src/lib/virtq.c" "$tmp/src/lib/virtq.c"
	sed -i "$2" "$tmp/src/lib/virtq.c"
	if cmp -s "$src/src/lib/virtq.c" "$tmp/src/lib/virtq.c"; then
		echo "read_once test: the mutant '$1' no longer applies to virtq.c: update it"; exit 1
	fi
	if python3 "$check" "$tmp" >"$tmp/out" 2>&1; then
		echo "read_once test: the gate missed: $1"; cat "$tmp/out"; exit 1
	fi
	echo "read_once test: caught: $1"
}
# the next index checked on the copy, then fetched again from the table
mutant "descriptor next re-read from guest memory" \
	's/		i = d.next;/		i = vq->desc[i].next;/'
# a field loaded twice by the accessor
mutant "desc_load reads len twice" \
	's/	d.len = p->len;/	d.len = p->len; d.len = p->len;/'
# the avail index loaded again after its check
mutant "avail index loaded twice" \
	's/	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num)/	if ((uint16_t)(ld16(\&vq->avail[1]) - vq->last_avail) > vq->num)/'
