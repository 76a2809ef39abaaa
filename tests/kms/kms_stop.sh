#!/usr/bin/env bash
# A SIGTERM that arrives as soon as ward-kms is listening - before its
# worker threads have entered their event loops - still stops every thread.
# (It used to hang: the stop request was a loop break, which a loop that had
# not started yet cleared on entry; the attach tests hung on it when they
# skipped right after starting the KMS.)
. "$(dirname "$0")/lib.sh"
kms_setup
for i in $(seq 10); do
	KMS_THREADS=4 kms_start
	kill "$KMS_PID"
	for _ in $(seq 600); do kill -0 "$KMS_PID" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$KMS_PID" 2>/dev/null; then
		kill -9 "$KMS_PID"
		fail "round $i: ward-kms still running 30 s after SIGTERM"
	fi
	rc=0; wait "$KMS_PID" || rc=$?
	KMS_PID=
	[ "$rc" -eq 0 ] || fail "round $i: exit status $rc on SIGTERM"
done
pass "10 SIGTERMs right after start: each stopped every thread, exit 0"
