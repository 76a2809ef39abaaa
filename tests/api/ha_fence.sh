#!/usr/bin/env bash
# Fencing of a deposed ward-api leader (docs/ha.md): r1 leads; it is
# frozen (SIGSTOP) between two ticks until etcd lets its lease go and r2
# is elected (observed in etcd, not guessed with sleeps); thawed, r1 runs
# its leader-only task before it learns anything, and that write, fenced
# on r1's election revision, is refused by etcd and reported (whatever
# r1's lease keeper thread finds meanwhile: the tasks are not skipped).
# Also: r2's first election watch starts at a compacted revision, and it
# re-lists.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ha_lib.sh"
ha_setup
etcd_start 1
LEADER_TTL=2
replica_start r1
wait_for "r1 to lead" '[ "$(api_leader)" = r1 ]'
pass "r1 elected"

# Compact etcd past everything so far, then start r2 watching from
# revision 1: the watch is cancelled as compacted, r2 re-lists and re-watches.
for i in 1 2 3; do ectl put ward/test/filler "$i" >/dev/null; done
REV=$(ectl get ward/test/filler -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
ectl compact "$REV" >/dev/null
replica_start r2 WARD_TEST_LEADER_WATCH_FROM=1
wait_for "r2's compacted watch" 'grep -q "msg=\"election watch compacted, re-listing\"" "$T/r2.log"'
pass "r2's election watch from a compacted revision re-listed"

# The election thread is named ward-leader (its lease keeper, ward-lease,
# naps too): freeze r1 while the election thread sleeps in clock_nanosleep
# (230) between ticks, so it has nothing in flight to etcd.
election_sleeping() {
	local t
	for t in /proc/"$PID_r1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = ward-leader ] || continue
		[ "$(cut -d' ' -f1 "$t/syscall" 2>/dev/null)" = 230 ] && return 0
	done
	return 1
}
for _ in $(seq 100); do
	kill -STOP "$PID_r1"
	grep -q '^State:.*T' "/proc/$PID_r1/status" || { sleep 0.05; continue; }
	election_sleeping && break
	kill -CONT "$PID_r1"
	sleep 0.05
done
election_sleeping || fail "could not stop r1 between two ticks"
OLD=$(ectl get ward/leader/api -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["create_revision"])')
wait_for "r1's lease to expire and r2 to lead" '[ "$(api_leader)" = r2 ]'
pass "r1 frozen; etcd dropped its lease; r2 elected"

kill -CONT "$PID_r1"
wait_for "r1 to step down" 'grep -q "msg=\"leader .*stepping down" "$T/r1.log"'
grep 'msg="leader .*stepping down' "$T/r1.log" | head -1 |
	grep -q 'msg="leader write fenced off, stepping down" id=r1 token='"$OLD" \
	|| fail "r1 was not stopped by the fence: $(grep 'msg="leader' "$T/r1.log")"
pass "r1's fenced write (token $OLD) was refused by etcd and reported"

# Nothing of r1 landed after r2's election: every version of the leader
# record since r2's election revision (etcd's history, replayed by a watch
# from that revision) is r2's.
NEWREV=$(ectl get ward/leader/api -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["create_revision"])')
wait_for "r2's leader record" 'ectl get --print-value-only ward/data/leader/heartbeat | grep -q "\"Id\":\"r2\""'
timeout 3 "$ETCDCTL" --endpoints "$ETCD_EPS" watch --rev="$NEWREV" ward/data/leader/heartbeat \
	> "$T/history" 2>/dev/null || true
grep -q '"Id":"r2"' "$T/history" || fail "no history of the leader record: $(cat "$T/history")"
! grep -q '"Id":"r1"' "$T/history" || fail "r1 wrote after r2's election: $(cat "$T/history")"
[ "$(api_leader)" = r2 ] || fail "r2 lost the lead"
pass "every leader record since r2's election (revision $NEWREV) is r2's; r1 stepped down"
