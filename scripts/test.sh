#!/usr/bin/env bash
# `make test`: the whole suite, twice — once built with gcc and warnings as
# errors (build-test/), once built with clang under AddressSanitizer + UBSan
# with the libFuzzer harnesses (build-asan/). Ends with "N passed, N failed".
# Both are configured with -Dtest_hooks=true (the fault-injection hooks the
# tests drive); build/, what `make build`/`make demo`/`make bench` use, keeps
# the default: no hooks.
# Extra arguments are passed to `meson test` (e.g. a suite or test name).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

setup() { # dir, extra meson args...
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" --werror -Dtest_hooks=true "$@" >/dev/null || return 1
	elif [ "$(scripts/test_hooks.sh "$dir")" != true ]; then
		# Set up by hand, or before the hooks were off by default.
		meson configure "$dir" -Dtest_hooks=true >/dev/null || return 1
	fi
}

fail_build() { echo "build failed: $1"; echo "0 passed, 1 failed"; exit 1; }

setup build-test || fail_build build-test
CC=clang setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true || fail_build build-asan
ninja -C build-test >/dev/null || { ninja -C build-test | tail -40; fail_build build-test; }
ninja -C build-asan >/dev/null || { ninja -C build-asan | tail -40; fail_build build-asan; }

rc=0
for dir in build-test build-asan; do
	echo "== meson test in $dir"
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || rc=1
done

/usr/bin/python3 - build-test build-asan <<'PY'
import json, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    try:
        lines = open(f"{d}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $rc
