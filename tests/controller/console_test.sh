#!/usr/bin/env bash
# console_test.sh HV_STANDIN: the read-only serial console (docs/observability.md
# "Serial console") without /dev/kvm. The dev controller's ward-hv is
# HV_STANDIN, which writes a known pattern to its stdout (the console pipe)
# when its guest command line says console-pattern=N: more than the 64 KiB
# ring, so the oldest bytes are overwritten and a reader from offset 0 is
# told how many it missed. Checked: the bytes and offsets, the pipe is
# non-blocking on ward-hv's side, the operator role is refused, requests are
# audited without a console byte, `ward instance console`, a kill -9 of the
# controller (the restarted one re-opens the same pipe, its ring starts
# empty at offset 0), the ring wiped when the instance ends (410), and a
# stopped instance's console and volume detach answer 404.
source "$(dirname "$0")/lib.sh"
STANDIN=${1:?hv_standin path}
need
[ -x "$STANDIN" ] || { echo "FAIL: $STANDIN is missing: the build did not produce it"; exit 1; }
mkpki
FB=$W/fakeb
mkdir -p "$FB/src/hv" "$FB/src/blk" "$FB/guest"
cp "$STANDIN" "$FB/src/hv/ward-hv"
cp "$B/src/blk/ward-blk" "$FB/src/blk/ward-blk"
cp "$B/guest/hello.elf" "$FB/guest/"
RING=65536
N=200000	# pattern bytes: about three rings
TRAILER="stdout O_NONBLOCK=yes"

# The stream the stand-in writes (hv_standin.c: pattern()).
python3 - "$N" "$W/expected" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
b = bytearray(); k = 0
while len(b) < n:
    b += b"console line %08d\n" % k; k += 1
open(out, "wb").write(bytes(b[:n]) + b"stdout O_NONBLOCK=yes\n")
PY
TOTAL=$(stat -c %s "$W/expected")

# console ROLE ID OFFSET: GET the console; sets STATUS, body in $W/body,
# headers in $W/hdr, and C_START/C_NEXT/C_MISSED.
console() {
	STATUS=$(curl -sS -D "$W/hdr" -o "$W/body" -w '%{http_code}' --max-time 20 \
		--cacert "$P/ca.pem" --cert "$P/$1.pem" --key "$P/$1.key" \
		"$URL/v1/instances/$2/console?offset=$3" 2>"$W/curl.err")
	hdr() { tr -d '\r' <"$W/hdr" | awk -v h="$1" 'tolower($1) == tolower(h) ":" {print $2}'; }
	C_START=$(hdr X-Console-Start) C_NEXT=$(hdr X-Console-Next) C_MISSED=$(hdr X-Console-Missed)
}
# wait_next ID N: until the console's next offset is N (the stand-in has
# written all of it and the controller drained it). No timing: a bound only.
wait_next() {
	for _ in $(seq 400); do
		console cp "$1" "$2"
		[ "$STATUS" = 200 ] && [ "$C_NEXT" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

start_ctl --dev-images "$FB"
req cp POST /v1/instances "{\"image\":\"hello\",\"memory_mib\":16,\"cmdline\":\"console-pattern=$N\"}"
check "instance launched with the stand-in ward-hv" [ "$STATUS" = 201 ]
id=$(echo "$BODY" | json_get '["id"]')
hvpid=$(echo "$BODY" | json_get '["pid"]')

check "the console reaches offset $TOTAL (all the stand-in wrote)" wait_next "$id" "$TOTAL"
console cp "$id" 0
echo "   offset 0: HTTP $STATUS start=$C_START next=$C_NEXT missed=$C_MISSED, $(stat -c %s "$W/body") bytes"
check "from offset 0: 200" [ "$STATUS" = 200 ]
check "the ring keeps the newest $RING bytes: start $((TOTAL - RING))" [ "$C_START" = $((TOTAL - RING)) ]
check "... and says so: missed $((TOTAL - RING))" [ "$C_MISSED" = $((TOTAL - RING)) ]
check "... next offset $TOTAL" [ "$C_NEXT" = "$TOTAL" ]
check "... the bytes are the stream's last $RING, in order" \
	cmp -s "$W/body" <(tail -c "$RING" "$W/expected")
check "ward-hv's end of the console pipe is non-blocking (a slow reader never stalls it)" \
	bash -c "tail -c 30 '$W/body' | grep -q '$TRAILER'"
console cp "$id" $((TOTAL - 100))
check "a reader that kept up gets only the new bytes, missed 0" \
	bash -c "[ '$C_MISSED' = 0 ] && [ '$C_START' = $((TOTAL - 100)) ] && cmp -s '$W/body' <(tail -c 100 '$W/expected')"
console cp "$id" "$TOTAL"
check "at the end: 200, no bytes, next unchanged" \
	bash -c "[ '$STATUS' = 200 ] && [ ! -s '$W/body' ] && [ '$C_NEXT' = $TOTAL ]"
console cp "$id" $((TOTAL + 1))
check "past the end: 416" bash -c "[ '$STATUS' = 416 ] && grep -q out_of_range '$W/body'"
console cp "$id" abc
check "a malformed offset: 400" [ "$STATUS" = 400 ]
console op "$id" 0
check "the operator role is refused: 403" [ "$STATUS" = 403 ]
check "... and gets no console byte" bash -c "! grep -q 'console line' '$W/body'"
console cp 00000000-0000-4000-8000-000000000000 0
check "an unknown instance: 404" [ "$STATUS" = 404 ]

# Audited like every route: who asked for which instance, never a byte.
check "console requests are audited (control plane allow, operator deny)" \
	python3 -c 'import json,sys
recs = [r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "api" and r.get("path", "").endswith("/console")]
ok = any(r["decision"] == "allow" and r.get("instance") == sys.argv[2] and r.get("offset") == 0 for r in recs)
deny = any(r["decision"] == "deny" and r.get("role") == "operator" for r in recs)
sys.exit(not (ok and deny))' "$S/audit/leaves" "$id"
check "no console byte in the audit log or the state dir" \
	bash -c "! grep -rq 'console line' '$S'"

# The CLI: the ring's bytes on stdout, the loss on stderr.
ward_cli cp instance console "$id" >"$W/cli.out" 2>"$W/cli.err"
check "ward instance console: exit 0, the ring's bytes" \
	bash -c "[ $? = 0 ] && cmp -s '$W/cli.out' <(tail -c $RING '$W/expected')"
check "... the overwritten bytes reported on stderr" \
	grep -q "$((TOTAL - RING)) console bytes were overwritten" "$W/cli.err"
ward_cli op instance console "$id" >"$W/cli.out" 2>"$W/cli.err"
check "ward instance console as the operator: refused (exit 1, 403)" \
	bash -c "[ $? = 1 ] && grep -q 'HTTP 403' '$W/cli.err'"
ward_cli cp instance console --help >"$W/cli.out" 2>&1
check "ward instance console --help" grep -q "usage: ward instance console ID \[--follow\]" "$W/cli.out"
# --follow sees what comes later (SIGHUP: the stand-in writes one line).
ward_cli cp instance console "$id" --follow >"$W/follow.out" 2>"$W/follow.err" &
fpid=$!
for _ in $(seq 200); do [ -s "$W/follow.out" ] && break; sleep 0.05; done
kill -HUP "$hvpid"
for _ in $(seq 200); do grep -q "console after SIGHUP" "$W/follow.out" && break; sleep 0.05; done
check "ward instance console --follow prints new output" grep -q "console after SIGHUP" "$W/follow.out"
kill "$fpid"; wait "$fpid" 2>/dev/null
TOTAL=$((TOTAL + 21))

# kill -9 of the controller: the restarted one re-opens the same pipe
# (ward-hv's fd 1) and starts a new ring at offset 0.
kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null; CTL_PID=""
start_ctl --dev-images "$FB"
check "the restarted controller re-opened the console" \
	bash -c "! grep -q 'instance console not re-opened' '$W/ctl.log'"
console cp "$id" 0
check "after the restart the ring starts empty at offset 0" \
	bash -c "[ '$STATUS' = 200 ] && [ '$C_NEXT' = 0 ] && [ ! -s '$W/body' ]"
kill -HUP "$hvpid"
check "output after the restart reaches the new ring" wait_next "$id" 21
console cp "$id" 0
check "... from offset 0, nothing missed" \
	bash -c "[ '$C_MISSED' = 0 ] && grep -qx 'console after SIGHUP' '$W/body'"

# The instance ends on its own: its ring is wiped, the route answers 410.
kill -USR1 "$hvpid"
for _ in $(seq 200); do
	req cp GET "/v1/instances/$id"
	grep -q '"state":"exited"' "$W/body" && break
	sleep 0.05
done
console cp "$id" 0
check "an ended instance's console: 410, wiped" \
	bash -c "[ '$STATUS' = 410 ] && grep -q instance_ended '$W/body'"

# A stopped (DELETEd) instance is forgotten: its console and a detach of a
# volume both answer 404.
req cp POST /v1/instances '{"image":"hello","memory_mib":16}'
id2=$(echo "$BODY" | json_get '["id"]')
req cp DELETE "/v1/instances/$id2"
check "DELETE: 200" [ "$STATUS" = 200 ]
console cp "$id2" 0
check "the deleted instance's console: 404" [ "$STATUS" = 404 ]
req cp DELETE "/v1/instances/$id2/volumes/vol-1"
check "a volume detach after DELETE: 404" [ "$STATUS" = 404 ]
stop_ctl
check "no controller warning about the console" \
	bash -c "! grep -q 'without a console' '$W/ctl.log'"
finish
