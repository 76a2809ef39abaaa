#!/usr/bin/env bash
# Replicated ward-api under failure (docs/ha.md): a 3-member etcd cluster,
# 3 ward-api replicas. A writer keeps launching instances (RunInstances)
# and making volumes with ClientTokens, and IAM users, through
# /usr/bin/aws, moving to the next replica when one fails and retrying the
# same token, while (a) the etcd raft leader and then (b) the ward-api
# leader are killed with SIGKILL. Afterwards every acknowledged instance,
# volume and user exists, each instance and volume exactly once with its
# one token record, retried tokens return the same instance and volume,
# and another replica leads. The instances are placed on one admitted
# host whose record is put into etcd by the test (no controller runs here:
# the reconciler's launches fail and are retried, the records stay
# pending; what is checked is the API's records). AttachVolume is not in
# the workload yet.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ha_lib.sh"
ha_setup
etcd_start 3
read -r ak sk < <("$API" --etcd "$ETCD_EPS" --master-key-file "$T/master.key" \
	admin bootstrap admin) || fail "admin bootstrap"
set_creds admin "$ak" "$sk"
# The host RunInstances places on: admitted, one burstable pool core.
ectl put ward/data/ec2/host/h-ha '{"HostId":"h-ha","State":"admitted"}' >/dev/null
ectl put ward/data/ec2/hostcap/h-ha '{"ThreadsPerCore":1,"FixedCores":0,"PoolCores":1}' >/dev/null
# ...and holds the image (GET /v1/images as the reconciler records it).
ectl put ward/data/ec2/hostimages/h-ha '{"HostId":"h-ha","Images":[{"Name":"ha"}]}' >/dev/null
for r in r1 r2 r3; do replica_start "$r"; done
wait_for "a leader" '[ -n "$(api_leader)" ]'
pass "etcd cluster of 3 and replicas r1 r2 r3 up; $(api_leader) leads"

ALIVE="r1 r2 r3"
# on_replica I CMD...: the aws CLI against the I-th live replica.
on_replica() {
	local i=$1 live; shift
	read -r -a live < "$T/alive"
	URL=${live[$((i % ${#live[@]}))]}
	"$@"
}
urls() { local r u out=""; for r in $1; do u=URL_$r; out+="${out:+ }${!u}"; done; echo "$out"; }
urls "$ALIVE" > "$T/alive"

# writer: volume ha-<n>, and instance hi-<n> (odd rounds) or user hu-<n>
# (even rounds), until $T/stop; each request is tried on up to 6 replicas
# in turn, with the same token.
writer() {
	local n=0 try v out
	while [ ! -e "$T/stop" ] && [ -d "$T" ]; do
		n=$((n + 1))
		for try in 0 1 2 3 4 5; do
			[ $((n % 2)) = 1 ] || break
			if v=$(on_replica $((n + try + 2)) as admin ec2 run-instances \
				--image-id ami-ha --instance-type t3.nano --count 1 --client-token "hi-$n" \
				2>>"$T/writer.err" | jget Instances.0.InstanceId 2>/dev/null); then
				echo "hi-$n $v" >> "$T/iacked"
				break
			fi
		done
		for try in 0 1 2 3 4 5; do
			if v=$(on_replica $((n + try)) as admin ec2 create-volume \
				--availability-zone us-east-1a --size 1 --client-token "ha-$n" \
				2>>"$T/writer.err" | jget VolumeId 2>/dev/null); then
				echo "ha-$n $v" >> "$T/acked"
				[ "$try" = 0 ] || echo "ha-$n" >> "$T/retried"
				break
			fi
		done
		[ $((n % 2)) = 0 ] || continue
		for try in 0 1 2 3 4 5; do
			out=$(on_replica $((n + try + 1)) as admin iam create-user --user-name "hu-$n" 2>&1) \
				&& { echo "hu-$n" >> "$T/users"; break; }
			# A retry after a lost reply may find its own earlier write.
			[ "$try" != 0 ] && grep -q EntityAlreadyExists <<<"$out" \
				&& { echo "hu-$n" >> "$T/users"; break; }
		done
	done
}
acked() { cat "$T/acked" 2>/dev/null | wc -l; }
: > "$T/acked"; : > "$T/iacked"; : > "$T/users"; : > "$T/retried"
writer &
WRITER=$!
HA_BG+=("$WRITER")
wait_for "the first acknowledged write" '[ "$(acked)" -ge 1 ]'

# (a) the etcd raft leader.
EL=$(etcd_leader)
[ -n "$EL" ] || fail "no etcd leader"
kill -9 "${ETCD_PIDS[$EL]}"
wait "${ETCD_PIDS[$EL]}" 2>/dev/null || true
A=$(acked)
pass "etcd leader e$EL killed with SIGKILL after $A acknowledged volumes"
wait_for "a write after the etcd leader's death" '[ "$(acked)" -ge $((A + 1)) ]'

# (b) the ward-api leader.
OLD=$(api_leader)
P=PID_$OLD
kill -9 "${!P}"
wait "${!P}" 2>/dev/null || true
# The writer keeps $OLD in its list: its requests there fail and move on.
ALIVE=$(tr ' ' '\n' <<<"$ALIVE" | grep -vx "$OLD" | tr '\n' ' ')
A=$(acked)
pass "ward-api leader $OLD killed with SIGKILL after $A acknowledged volumes"
wait_for "a new ward-api leader" '[ -n "$(api_leader)" ] && [ "$(api_leader)" != "$OLD" ]'
wait_for "writes after the ward-api leader's death" '[ "$(acked)" -ge $((A + 2)) ]'
NEW=$(api_leader)
wait_for "the new leader's fenced record" 'ectl get --print-value-only ward/data/leader/heartbeat | grep -q "\"Id\":\"$NEW\""'
touch "$T/stop"
wait "$WRITER"
pass "$NEW leads now; $(wc -l < "$T/iacked") instances, $(acked) volumes and $(wc -l < "$T/users") users acknowledged, $(wc -l < "$T/retried") volume requests retried on another replica"

# The store, read straight from etcd: one token record per volume and per
# instance, and back (an instance or volume that a re-run made twice would
# have no token record).
ectl get --prefix ward/data/ec2/ -w json | python3 -c '
import base64, json, sys
kvs = json.load(sys.stdin).get("kvs", [])
d = {base64.b64decode(kv["key"]).decode(): json.loads(base64.b64decode(kv["value"])) for kv in kvs}
tok = [v for k, v in d.items() if k.startswith("ward/data/ec2/clienttoken/")]
for kind, field, ackf in (("volume", "VolumeId", sys.argv[1]), ("instance", "InstanceIds", sys.argv[2])):
    stored = {k.split("/")[-1] for k in d if k.startswith("ward/data/ec2/%s/" % kind)}
    toks = []
    for v in tok:
        x = v.get(field)
        toks += x if isinstance(x, list) else [x] if x else []
    assert len(toks) == len(set(toks)), "a %s has two token records" % kind
    assert set(toks) == stored, (kind, stored ^ set(toks))
    acked = dict(l.split() for l in open(ackf))
    assert len(set(acked.values())) == len(acked), "two tokens acknowledged the same " + kind
    missing = set(acked.values()) - stored
    assert not missing, (kind, missing)
    print(len(stored), kind + "s stored,", len(acked), "acknowledged")' "$T/acked" "$T/iacked" \
	|| fail "instances or volumes and their tokens disagree"
[ "$(wc -l < "$T/iacked")" -ge 1 ] || fail "no instance was acknowledged"
pass "every acknowledged instance and volume exists exactly once, with its one token record"

read -r -a live <<<"$(urls "$ALIVE")"
URL=${live[0]}
VOLS=$(as admin ec2 describe-volumes)
[ "$(grep -c '"VolumeId"' <<<"$VOLS")" -ge "$(acked)" ] || fail "describe-volumes misses volumes"
USERS=$(as admin iam list-users)
while read -r u; do
	grep -q "\"UserName\": \"$u\"" <<<"$USERS" || fail "acknowledged user $u is lost"
done < "$T/users"
pass "describe-volumes and list-users on a surviving replica show them all"

# A token acknowledged before both kills keeps its meaning (the writer's
# own retries on another replica checked the others).
for tok in $(head -1 "$T/acked" | cut -d' ' -f1); do
	want=$(grep "^$tok " "$T/acked" | cut -d' ' -f2)
	URL=${live[1]}
	got=$(as admin ec2 create-volume --availability-zone us-east-1a --size 1 \
		--client-token "$tok" | jget VolumeId)
	[ "$got" = "$want" ] || fail "token $tok: $got, was $want"
done
tok=$(head -1 "$T/iacked" | cut -d' ' -f1)
want=$(grep "^$tok " "$T/iacked" | cut -d' ' -f2)
got=$(as admin ec2 run-instances --image-id ami-ha --instance-type t3.nano --count 1 \
	--client-token "$tok" | jget Instances.0.InstanceId)
[ "$got" = "$want" ] || fail "token $tok: $got, was $want"
pass "retried ClientTokens return the same volumes and instances"
