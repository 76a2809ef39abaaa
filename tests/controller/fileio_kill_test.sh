#!/usr/bin/env bash
# fileio_kill_test.sh CRASHER: kill -9 the three kinds of file write at any
# point (fileio_crash.c): a replaced record is the old or the new, a file
# created new is whole or absent, a reader never sees half a record, and
# the sweep at the next start leaves no temporary file. Part 1 stops the
# writer at every single write step (test-hooks builds); part 2 sends a
# real SIGKILL to writers running flat out, with a reader beside them.
set -uo pipefail
P=${1:?fileio_crash binary}
W=$(mktemp -d /tmp/ward-fileio-kill-XXXXXX)
trap 'rm -rf "$W"' EXIT
fails=0
ok() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
fresh() { rm -rf "$W/d"; mkdir "$W/d" && "$P" seed "$W/d" || { echo "FATAL: seed"; exit 1; }; }

# Part 1: SIGKILL at step n (a torn write first when the step is a write).
"$P" cut 0 "$W/none" 2>/dev/null; hooks=$?
if [ $hooks = 77 ]; then
	echo "# part 1 needs a test-hooks build (meson -Dtest_hooks=true); part 2 still runs"
else
	n=0 bad=0 swept=0 done=0
	while [ $n -lt 100 ]; do
		n=$((n + 1))
		fresh
		rc=$( { "$P" cut $n "$W/d"; echo $?; } 2>/dev/null )	# no "Killed" noise
		[ $rc = 0 ] && done=1
		[ $rc = 0 ] || [ $rc = 137 ] || { fail "cut $n: exit $rc"; bad=$((bad + 1)); }
		if out=$("$P" check "$W/d" 2>&1); then
			swept=$((swept + $(sed -n 's/^swept=//p' <<<"$out")))
		else
			bad=$((bad + 1)); echo "    # cut at step $n: $out"
		fi
		[ $done = 1 ] && break
	done
	[ $done = 1 ] && ok "the run without a cut completes (after $((n - 1)) cuts)" ||
		fail "no run completed in 100 steps"
	[ $bad = 0 ] && ok "every one of $((n - 1)) cuts leaves whole files and no temporary file" ||
		fail "$bad cuts left a torn or leftover file"
	[ $swept -gt 0 ] && ok "cuts did leave temporary files ($swept), and the sweep removed them" ||
		fail "no cut left a temporary file: the sweep was not exercised"
fi

# Part 2: real kill -9 after k writes (k spread over 1..400), a reader of the
# replaced record running the whole time. Correctness does not depend on
# where the kill lands; k only spreads the points.
bad=0
for r in $(seq 1 12); do
	k=$(( (r * 97) % 400 + 1 ))
	fresh
	"$P" read "$W/d" 300 & reader=$!
	exec {rfd}< <(exec "$P" replace "$W/d"); wpid=$!
	exec {nfd}< <(exec "$P" new "$W/d"); npid=$!
	for ((i = 0; i < k; i++)); do read -r -u $rfd _ && read -r -u $nfd _ || break; done
	kill -9 $wpid $npid 2>/dev/null
	exec {rfd}<&- {nfd}<&-
	wait $wpid $npid 2>/dev/null
	wait $reader || { bad=$((bad + 1)); echo "    # round $r: the reader saw a torn record"; }
	out=$("$P" check "$W/d" 2>&1) || { bad=$((bad + 1)); echo "    # round $r (kill after $k): $out"; }
done
[ $bad = 0 ] && ok "12 kill -9 rounds: record old or new, created files whole, reader never torn, no temporary file left" ||
	fail "$bad kill -9 rounds went wrong"

echo "$fails failed"
[ $fails = 0 ]
