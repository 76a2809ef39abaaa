#!/usr/bin/env bash
# `make bench`: every benchmark in bench/*/run.sh, side by side with its
# reference in the same run. Results (JSON) land in build/bench/; copy the
# tables into docs/benchmarks.md when they change. Benchmarks are not tests.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/bench
rc=0
for b in bench/*/run.sh; do
	name=$(basename "$(dirname "$b")")
	echo "== bench: $name"
	bash "$b" build "build/bench/$name.json" || { echo "bench $name failed"; rc=1; }
done
exit $rc
