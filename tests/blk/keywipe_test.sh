#!/usr/bin/env bash
# keywipe_test: the volume key is gone from ward-blk's memory after DETACH.
# While attached, the AES key schedules hold the key halves verbatim (round
# key 0), so a scan of the process memory finds them - the check can fail -
# and every copy is in locked, non-dumpable memory (OpenSSL allocates from
# lockedheap); after DETACH no readable page of the process holds either
# half.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "reading a non-dumpable process's memory needs root"
mkkey "$T/key"
truncate -s 16M "$T/disk"
"$DRIVER" --spawn-ctl "$WARD_BLK" --backing "$T/disk" --size $((16<<20)) --key-file "$T/key" \
	write 0 8 5 wait-file "$T/scanned" detach wait-file "$T/rescanned" >"$T/drv.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 600); do grep -q "^attach:" "$T/drv.log" && break; sleep 0.05; done
pid=$(sed -n 's/^attach: .* pid=\([0-9]*\)$/\1/p' "$T/drv.log")
[ -n "$pid" ] || fail "no ward-blk pid: $(cat "$T/drv.log")"
for _ in $(seq 600); do grep -q "^write 0 8 5: ok" "$T/drv.log" && break; sleep 0.05; done
/usr/bin/python3 "$S/tests/blk/memscan.py" "$pid" "$T/key" present-locked ||
	fail "key schedule not found while attached (scan broken?), or found in memory that is not locked and excluded from dumps"
touch "$T/scanned"	# the driver detaches only now: no race with a slow scan
for _ in $(seq 600); do grep -q "^detach:" "$T/drv.log" && break; sleep 0.05; done
grep -q "detach: detached, key destroyed" "$T/drv.log" || fail "DETACH failed: $(cat "$T/drv.log")"
/usr/bin/python3 "$S/tests/blk/memscan.py" "$pid" "$T/key" absent || fail "key bytes remain in ward-blk after DETACH"
touch "$T/rescanned"
echo PASS
