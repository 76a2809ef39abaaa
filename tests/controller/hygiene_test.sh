#!/usr/bin/env bash
# hygiene_test.sh HV_STANDIN: attach hygiene (issue 16 §5) on any host, KVM
# or not, with the whole attach stack (SoftHSM2 + ward-kms, the dev
# controller, ward-blk; tests/attach/lib.sh).
# 1. A launch the host would refuse (unknown image, CPUs or hugepages it
#    cannot give, a backing store that does not open) fetches no key: the
#    KMS activity trail (its own record of every request) shows no new
#    Decrypt, and the controller audits no "attach requested". A good
#    attach adds exactly one Decrypt, so the count can move.
# 2. After an instance ends, `ward volume list` shows the attachment as
#    ended (it asks the host), and the control plane's detach is answered 200
#    (detached at the instance's end, key wiped), audited "allow", not 404 /
#    "deny"; also after a controller restart.
# 3. Cards across a kill -9 of the controller: with HV_STANDIN as ward-hv
#    (it waits like a running VM, no KVM needed) the instance and its card
#    are re-adopted, and the detach after that goes to the adopted card.
. "$WARD_SOURCE_ROOT/tests/attach/lib.sh"
standin_setup "${1:-}"
restart_ctl() { ctl_start_std "$@"; } # [--dev-images DIR]
restart_ctl
TRAIL=$T/kms.db.trail/leaves
[ -f "$TRAIL" ] || { echo "FAIL: no KMS activity trail at $TRAIL"; exit 1; }
decrypts() { python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("op") == "Decrypt"))' "$TRAIL"; }
# requested VOL: how many "attach requested" records the controller has for VOL.
requested() { python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) for r in [json.loads(l)] if r.get("type") == "volume" and r.get("event") == "attach requested" and r.get("volume") == sys.argv[2]))' "$S/audit/leaves" "$1"; }

KID=$(make_key)
[ -n "$KID" ] || { echo "FAIL: create-key"; exit 1; }
wv alice create --size 16M --kms-key "$KID" --id vol-1 >"$W/create.out" ||
	{ cat "$W/create.out"; echo "FAIL: volume create"; exit 1; }
wv alice create --size 16M --kms-key "$KID" --id vol-2 >"$W/create.out" ||
	{ cat "$W/create.out"; echo "FAIL: volume create"; exit 1; }

# refused_clean DESCRIPTION STATUS PATTERN BODY: the launch is refused with
# STATUS and PATTERN, and no key was fetched for it.
refused_clean() {
	local d=$1 st=$2 pat=$3 n0 r0
	n0=$(decrypts) r0=$(requested vol-1)
	req cp POST /v1/instances "$4"
	echo "   $BODY"
	check "$d: refused, HTTP $st" bash -c "[ '$STATUS' = $st ] && grep -q '$pat' '$W/body'"
	check "$d: no KMS Decrypt (trail: $n0 -> $(decrypts))" [ "$(decrypts)" = "$n0" ]
	check "$d: no attach step started" [ "$(requested vol-1)" = "$r0" ]
}
# shape SPEC KEY=JSON...: the launch request SPEC with fields replaced.
shape() {
	python3 -c 'import json,sys
s = json.loads(sys.argv[1])
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1); s[k] = json.loads(v)
print(json.dumps(s))' "$@"
}

# 1. Validation before any key. As the issue found it, through the CLI:
n0=$(decrypts)
wv alice attach vol-1 --image no-such-image --memory 64 >"$W/a.out" 2>"$W/a.err"
echo "   $(head -c 300 "$W/a.err")"
check "ward volume attach --image no-such-image: refused, 422" \
	bash -c "grep -q 'HTTP 422' '$W/a.err' && grep -q 'no guest image' '$W/a.err'"
check "... no KMS Decrypt (trail: $n0 -> $(decrypts))" [ "$(decrypts)" = "$n0" ]
check "... no attach step started" [ "$(requested vol-1)" = 0 ]
check "... the volume is not left marked attached" \
	bash -c "! grep -q '\"instance\"' '$CP/volumes.json'"
# Then each other launch parameter, on one attach spec (its grant and
# session stay valid: nothing used them).
S1=$(wv alice attach vol-1 --image blk-check --memory 64 --spec-only)
S2=$(wv alice attach vol-2 --image blk-check --memory 64 --spec-only)
refused_clean "an unknown image" 422 'no guest image' "$(shape "$S1" image='"nope"')"
refused_clean "a fixed instance this host has no cores for" 409 cpu_unavailable \
	"$(shape "$S1" cpu='"fixed"' vcpus=64)"
refused_clean "hugepages the host has no pool of" 409 hugepages_unavailable \
	"$(shape "$S1" hugepages='"1G"' memory_mib=1024)"
# More RAM than the host has beyond its own share (an eighth, >= 1 GiB):
# refused before anything starts, since guest RAM is populated only on
# touch and the kernel would not refuse it (docs/hv.md).
ram=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
keep=$(( ram / 8 > 1024 ? ram / 8 : 1024 ))
if [ $(( 65536 + keep )) -gt "$ram" ]; then
	refused_clean "more memory than the host gives instances" 409 'host is full: 65536 MiB asked' \
		"$(shape "$S1" memory_mib=65536)"
fi
check "no key was unsealed into ward-blk" bash -c "! grep -q 'volume key unsealed' '$W/ctl.log'"
# Two volumes, the second's store gone: refused before the first's key.
rm -f "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["volumes"]["vol-2"]["backing"])' "$CP/volumes.json")"
BODY2=$(python3 -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); a["volumes"]+=b["volumes"]; print(json.dumps(a))' "$S1" "$S2")
n0=$(decrypts)
req cp POST /v1/instances "$BODY2"
echo "   $BODY"
check "a second volume's missing store: 422 before any key" \
	bash -c "[ '$STATUS' = 422 ] && grep -q 'volume vol-2: backing store' '$W/body'"
check "... no KMS Decrypt, not even for the first volume (trail: $n0 -> $(decrypts))" [ "$(decrypts)" = "$n0" ]
check "... and no card left" bash -c "! pgrep -P $CTL_PID -x ward-blk >/dev/null"
wv alice detach vol-1 >/dev/null 2>&1
wv alice detach vol-2 >/dev/null 2>&1

# A store outside every --volume-dir (and outside $W, whose port file
# directory the controller may write): Landlock says EACCES, and the
# answer names the option that would allow it.
OUTSIDE=$(mktemp -d /tmp/ward-outside.XXXXXX)
wv alice create --size 16M --kms-key "$KID" --id vol-3 --backing "$OUTSIDE/vol-3.img" >"$W/create.out" ||
	{ cat "$W/create.out"; rm -rf "$OUTSIDE"; echo "FAIL: volume create"; exit 1; }
S3=$(wv alice attach vol-3 --image blk-check --memory 64 --spec-only)
n0=$(decrypts)
req cp POST /v1/instances "$S3"
echo "   $BODY"
check "a store outside --volume-dir: 422 naming --volume-dir" \
	bash -c "[ '$STATUS' = 422 ] && grep -q 'Permission denied.*--volume-dir' '$W/body'"
check "... no KMS Decrypt (trail: $n0 -> $(decrypts))" [ "$(decrypts)" = "$n0" ]
wv alice detach vol-3 >/dev/null 2>&1
rm -rf "$OUTSIDE"

# The control: a good attach does one Decrypt.
n0=$(decrypts)
wv alice attach vol-1 --image blk-check --memory 64 >"$W/attach.out" 2>"$W/attach.err"
check "a good attach: 201" [ $? = 0 ]
check "a good attach: exactly one KMS Decrypt (trail: $n0 -> $(decrypts))" [ "$(decrypts)" = $((n0 + 1)) ]
ID=$(json_get '["id"]' <"$W/attach.out" 2>/dev/null)

# 2. The instance ends (no KVM: ward-hv exits 125; with KVM blk-check exits).
code=$(wait_exit "$ID")
echo "   instance $ID ended with $code"
for _ in $(seq 100); do grep -q "\"event\":\"detached\"" "$S/audit/leaves" && break; sleep 0.1; done
req cp GET "/v1/instances/$ID"
check "the ended instance lists no attached volume" \
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["state"] == "exited" and d["volumes"] == []))' "$W/body"
# audit_of_detach VOL: the API record of the last DELETE of VOL.
audit_of_detach() {
	python3 -c 'import json,sys
recs = [r for r in map(json.loads, open(sys.argv[1])) if r.get("type") == "api" and r.get("method") == "DELETE" and r.get("volume") == sys.argv[2]]
r = recs[-1]; print(r["decision"], r["status"])' "$S/audit/leaves" "$1"
}
wv alice list >"$W/list.out" 2>&1
cat "$W/list.out"
check "ward volume list follows the host: the attachment shows as ended" \
	grep -Eq "^vol-1 +[0-9]+ +$ID \(ended\) " "$W/list.out"
wv alice list --json >"$W/list.json" 2>&1
check "... and list --json says host_state: ended" \
	python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["vol-1"]["attachment"].get("host_state") != "ended")' "$W/list.json"
wv alice detach vol-1 >"$W/detach.out" 2>&1
cat "$W/detach.out"
check "detach after the instance ended: the host answers 200" grep -q '"host_answer":200' "$W/detach.out"
check "... audited allow, 200 (was deny, 404)" [ "$(audit_of_detach vol-1)" = "allow 200" ]
check "... and the volume is free again" bash -c "! grep -q '\"instance\"' '$CP/volumes.json'"

# 3. A running instance and its card across kill -9 (ward-hv: the stand-in).
restart_ctl --dev-images "$FB"
wv alice attach vol-1 --image blk-check --memory 64 >"$W/attach.out" 2>"$W/attach.err"
check "attach with the stand-in ward-hv: 201" [ $? = 0 ]
ID3=$(json_get '["id"]' <"$W/attach.out" 2>/dev/null)
CARD=$(pgrep -P "$CTL_PID" -x ward-blk)
check "its card runs ($CARD)" [ -n "$CARD" ]
wv alice list >"$W/list.out" 2>&1
check "ward volume list: a running attachment shows its instance alone" \
	grep -Eq "^vol-1 +[0-9]+ +$ID3 +arn:" "$W/list.out"
kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null; CTL_PID=""
check "the card outlives the killed controller" kill -0 "$CARD"
restart_ctl --dev-images "$FB"
# The instance of section 2 ended before this restart: its record kept its
# launch volumes, so a detach of one is still answered as done.
req cp DELETE "/v1/instances/$ID/volumes/vol-1"
check "after a controller restart, detach of an ended instance's volume: 200" \
	bash -c "[ '$STATUS' = 200 ] && grep -q '\"detached_by\":\"instance end\"' '$W/body'"
check "... audited allow, 200" [ "$(audit_of_detach vol-1)" = "allow 200" ]
check "the card is re-adopted (audited)" \
	python3 -c 'import json,sys; sys.exit(not any(r.get("type") == "card" and r.get("event") == "adopted" and r.get("instance") == sys.argv[2] for r in map(json.loads, open(sys.argv[1]))))' "$S/audit/leaves" "$ID3"
req cp GET "/v1/instances/$ID3"
check "the instance runs with vol-1 attached" \
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["state"] == "running" and d["volumes"] == ["vol-1"]))' "$W/body"
wv alice detach vol-1 >"$W/detach.out" 2>&1
cat "$W/detach.out"
check "detach through the re-adopted card: 200, key wiped" \
	grep -q '"key_wiped":true,"host_answer":200' "$W/detach.out"
req cp DELETE "/v1/instances/$ID3"
check "the instance stops" [ "$STATUS" = 200 ]
# DELETE with a volume still attached, then the detach: the instance is
# gone (stopped and forgotten, its card's keys wiped), so 404, not 500.
wv alice attach vol-1 --image blk-check --memory 64 >"$W/attach.out" 2>"$W/attach.err"
check "attach for the DELETE case: 201" [ $? = 0 ]
ID4=$(json_get '["id"]' <"$W/attach.out" 2>/dev/null)
req cp DELETE "/v1/instances/$ID4"
check "DELETE of an instance with a volume attached: 200" [ "$STATUS" = 200 ]
req cp DELETE "/v1/instances/$ID4/volumes/vol-1"
echo "   $BODY"
check "then a detach of its volume: 404" \
	bash -c "[ '$STATUS' = 404 ] && grep -q not_found '$W/body'"
stop_ctl
finish
