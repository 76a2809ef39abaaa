#!/usr/bin/env bash
# bench/ha/run.sh: failover time of replicated ward-api (docs/ha.md) — a
# 3-member etcd cluster and 3 replicas on loopback; a client (botocore, the
# library of Debian's aws CLI, one process so Python start-up is not
# measured) makes volumes and launches instances (RunInstances, on a host
# record the bench puts into etcd: no controller runs), alternately and
# back to back, each with a ClientToken, moving to the next replica on an
# error. Two scenarios, each killing with SIGKILL:
#   api:       the ward-api leader;
#   api+etcd:  the ward-api leader and the etcd raft leader together.
# For each: api_write_ms, kill to the first acknowledged CreateVolume
# (or RunInstances) after it, and leader_write_ms, kill to the new leader's first fenced
# write in etcd (its heartbeat; the reconcilers' failover, bounded by the
# lease TTL); and instances=N, the instances acknowledged, each checked to
# be stored exactly once. Prints one line per scenario, then failover_ms=… (the
# worst of all). Usage: run.sh [BUILD_DIR [OUT_JSON]] (scripts/bench.sh
# passes both). Env: HA_BENCH_TTL (s, default 2).
set -euo pipefail
B=${1:-${WARD_BUILD_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)/build}}
export WARD_BUILD_ROOT=$(cd "$B" && pwd)
export LEADER_TTL=${HA_BENCH_TTL:-2}
OUT_JSON=${2:-}
case $OUT_JSON in /*|'') ;; *) OUT_JSON=$PWD/$OUT_JSON ;; esac
. "$(dirname "$0")/../../tests/api/lib.sh"
. "$(dirname "$0")/../../tests/api/ha_lib.sh"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import awscli.botocore' 2>/dev/null \
	|| skip "Debian's awscli (its botocore) is not installed"

now_ms() { date +%s%3N; }

# The client: appends the wall-clock ms of each acknowledged write.
client() {
	/usr/bin/python3 - "$T/urls" "$T/ca.pem" "$1" "$2" "$T/acks" "$T/stop" "$T/iacks" <<'PY'
import os, sys, time
import awscli.botocore.session as bs, awscli.botocore.config as bc
urls_f, ca, ak, sk, acks, stop, iacks = sys.argv[1:]
cfg = bc.Config(retries={"max_attempts": 1}, connect_timeout=0.5, read_timeout=5)
clients = {}
def client(u):
    if u not in clients:
        clients[u] = bs.get_session().create_client("ec2", region_name="us-east-1",
            endpoint_url=u, verify=ca, aws_access_key_id=ak, aws_secret_access_key=sk, config=cfg)
    return clients[u]
n = i = 0
with open(acks, "a", buffering=1) as out, open(iacks, "a", buffering=1) as iout:
    while not os.path.exists(stop):
        urls = open(urls_f).read().split()
        n += 1
        while not os.path.exists(stop):
            try:
                c = client(urls[i % len(urls)])
                if n % 2:
                    c.create_volume(AvailabilityZone="us-east-1a", Size=1,
                                    ClientToken="bench-%d" % n)
                else:
                    r = c.run_instances(ImageId="ami-bench", InstanceType="t3.nano", MinCount=1,
                                        MaxCount=1, ClientToken="bench-i-%d" % n)
                    iout.write("%s\n" % r["Instances"][0]["InstanceId"])
                out.write("%d\n" % int(time.time() * 1000))
                break
            except Exception:
                i += 1
PY
}

# The new leader's first heartbeat after T0 (ms), polled from etcd.
leader_write_after() {	# T0 OLD_ID
	local hb
	while :; do
		hb=$(ectl get --print-value-only ward/data/leader/heartbeat 2>/dev/null || true)
		if [ -n "$hb" ] && ! grep -q "\"Id\":\"$2\"" <<<"$hb"; then
			now_ms
			return
		fi
		sleep 0.02
	done
}

first_ack_after() {	# T0
	local t
	while :; do
		t=$(awk -v t="$1" '$1 > t { print; exit }' "$T/acks")
		[ -n "$t" ] && { echo "$t"; return; }
		sleep 0.02
	done
}

scenario() {	# NAME KILL_ETCD(0/1)
	local name=$1 kill_etcd=$2 old p el t0 ta tl
	rm -rf "$T"/etcd* "$T"/port.* "$T/acks" "$T/iacks" "$T/stop"
	ETCD_PIDS=(); REPLICAS=()
	etcd_start 3
	# The host RunInstances places on: admitted, one burstable pool core.
	ectl put ward/data/ec2/host/h-b '{"HostId":"h-b","State":"admitted"}' >/dev/null
	ectl put ward/data/ec2/hostcap/h-b '{"ThreadsPerCore":1,"FixedCores":0,"PoolCores":1}' >/dev/null
	read -r ak sk < <("$API" --etcd "$ETCD_EPS" --master-key-file "$T/master.key" \
		admin bootstrap admin 2>/dev/null) || fail "admin bootstrap"
	for r in r1 r2 r3; do replica_start "$r"; done
	wait_for "a leader" '[ -n "$(api_leader)" ]'
	old=$(api_leader)
	urls=""
	for r in r1 r2 r3; do [ "$r" = "$old" ] || { u=URL_$r; urls+=" ${!u}"; }; done
	u=URL_$old
	echo "${!u}$urls" > "$T/urls"
	: > "$T/acks"
	client "$ak" "$sk" 2>>"$T/client.err" &
	HA_BG+=($!)
	wait_for "steady writes" '[ "$(wc -l < "$T/acks")" -ge 20 ]'
	p=PID_$old
	el=$(etcd_leader)
	t0=$(now_ms)
	kill -9 "${!p}"
	[ "$kill_etcd" = 1 ] && kill -9 "${ETCD_PIDS[$el]}"
	ta=$(first_ack_after "$t0")
	tl=$(leader_write_after "$t0" "$old")
	touch "$T/stop"
	wait "${HA_BG[-1]}" 2>/dev/null || true
	# Every acknowledged instance stored, each once (ids are unique keys:
	# a duplicate launch would be an instance no one acknowledged).
	ni=$(ectl get --prefix --keys-only ward/data/ec2/instance/ | grep -v '^$' | sed 's|.*/||' |
		sort | python3 -c 'import sys; s = set(sys.stdin.read().split()); a = open(sys.argv[1]).read().split()
assert len(a) == len(set(a)) and set(a) == s, (len(a), len(s)); print(len(a))' "$T/iacks") \
		|| fail "instances stored and acknowledged differ"
	echo "scenario=$name api_write_ms=$((ta - t0)) leader_write_ms=$((tl - t0)) lease_ttl_s=$LEADER_TTL instances=$ni"
	JSON+="${JSON:+,}\"$name\":{\"api_write_ms\":$((ta - t0)),\"leader_write_ms\":$((tl - t0))}"
	WORST=$(( WORST > ta - t0 ? WORST : ta - t0 ))
	WORST=$(( WORST > tl - t0 ? WORST : tl - t0 ))
	for r in "${REPLICAS[@]}"; do p=PID_$r; kill "${!p}" 2>/dev/null || true; wait "${!p}" 2>/dev/null || true; done
	for p in "${ETCD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	REPLICAS=(); ETCD_PIDS=()
}

ha_setup
WORST=0
JSON=""
scenario api 0
scenario api+etcd 1
[ -z "$OUT_JSON" ] || echo "{$JSON,\"lease_ttl_s\":$LEADER_TTL,\"failover_ms\":$WORST}" > "$OUT_JSON"
echo "failover_ms=$WORST"
