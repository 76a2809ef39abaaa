#!/usr/bin/env bash
# A leader round longer than the lease keeps the lead (docs/ha.md): r1
# leads with a 2 s lease and a leader task that takes 8 s (the test hook
# WARD_TEST_LEADER_SLOW_TASK_MS, standing for a controller that answers
# late); r2 waits. r1's lease keeper renews the lease during the task, so
# etcd never lets it go: after a whole slow round r1 still holds the same
# election key (same create_revision), r2 was never elected, and the slow
# task's fenced write at the end of the round was accepted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ha_lib.sh"
[ "${WARD_TEST_HOOKS:-0}" = 1 ] || { echo "SKIP: a build without test hooks (-Dtest_hooks=true) has no slow leader task"; exit 77; }
ha_setup
etcd_start 1
LEADER_TTL=2
replica_start r1 WARD_TEST_LEADER_SLOW_TASK_MS=8000
wait_for "r1 to lead" '[ "$(api_leader)" = r1 ]'
replica_start r2
rev() { ectl get ward/leader/api -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["create_revision"])'; }
REV=$(rev)
pass "r1 elected (election revision $REV), r2 standing by"

# The first slow round's fenced write (it ends ~8 s after the round began,
# four lease TTLs).
# (Or, without the keeper, until the lead changes hands.)
wait_for "r1's slow round to end" 'ectl get --print-value-only ward/data/leader/slowtask | grep -q "\"Round\":1" ||
	grep -q "msg=\"elected leader\"" "$T/r2.log"'
! grep -q 'msg="elected leader"' "$T/r2.log" || fail "r2 was elected during r1's slow round"
ectl get --print-value-only ward/data/leader/slowtask | grep -q "\"Id\":\"r1\",\"Token\":$REV," \
	|| fail "the slow task's record: $(ectl get --print-value-only ward/data/leader/slowtask)"
pass "after an 8 s leader task, r1's fenced write (token $REV) was accepted"
[ "$(api_leader)" = r1 ] && [ "$(rev)" = "$REV" ] || fail "the lead changed hands: $(api_leader) $(rev)"
! grep -q 'msg="elected leader"' "$T/r2.log" || fail "r2 was elected during r1's slow round"
! grep -q 'msg="leader .*stepping down' "$T/r1.log" || fail "r1 stepped down: $(grep 'stepping down' "$T/r1.log")"
pass "r1 kept the lead through the slow round (same election revision), r2 was never elected"
