# tests/api/ha_lib.sh: set-up for the replicated ward-api tests
# (docs/ha.md) on top of lib.sh — an etcd cluster of N members on free
# loopback ports in the test's temp dir, and ward-api replicas on it.
# Source it after lib.sh; call ha_setup, etcd_start N, replica_start NAME.
ETCD=$(command -v etcd || true)
ETCDCTL=$(command -v etcdctl || true)

ha_setup() {
	[ -n "$ETCD" ] && [ -n "$ETCDCTL" ] || skip "etcd and etcdctl (Debian etcd-server, etcd-client) are not installed"
	api_setup
	trap ha_cleanup EXIT
	ETCD_PIDS=()
	REPLICAS=()
	HA_BG=()	# background jobs of the test (writers), ended first
}

# Free loopback TCP ports (bound and released: nothing else here picks ports).
free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss: s.close()
PY
}

# etcd_start N: an N-member cluster; sets ETCD_EPS (comma-separated client URLs).
etcd_start() {
	local n=$1 i cluster="" ports
	read -r -a ports <<<"$(free_ports $((2 * n)))"
	for ((i = 0; i < n; i++)); do
		cluster+="${cluster:+,}e$i=http://127.0.0.1:${ports[$((2 * i + 1))]}"
	done
	ETCD_EPS=""
	for ((i = 0; i < n; i++)); do
		local c=http://127.0.0.1:${ports[$((2 * i))]} p=http://127.0.0.1:${ports[$((2 * i + 1))]}
		ETCD_EPS+="${ETCD_EPS:+,}$c"
		"$ETCD" --name "e$i" --data-dir "$T/etcd$i" --listen-client-urls "$c" \
			--advertise-client-urls "$c" --listen-peer-urls "$p" \
			--initial-advertise-peer-urls "$p" --initial-cluster "$cluster" \
			--initial-cluster-state new --initial-cluster-token "ward-test-$$" \
			--logger zap --log-outputs "$T/etcd$i.log" >/dev/null 2>&1 &
		ETCD_PIDS[$i]=$!
	done
	for _ in $(seq 300); do
		ectl endpoint health >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "etcd cluster did not become healthy"
}

ectl() { ETCDCTL_API=3 "$ETCDCTL" --endpoints "$ETCD_EPS" --command-timeout 5s "$@"; }

# The index (0..N-1) of the etcd member that is raft leader now.
etcd_leader() {
	ectl endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
st = json.load(sys.stdin)
eps = sys.argv[1].split(",")
lead = {s["Status"]["leader"] for s in st}
assert len(lead) == 1, lead
for s in st:
    if s["Status"]["header"]["member_id"] in lead:
        print(eps.index(s["Endpoint"]))' "$ETCD_EPS"
}

# replica_start NAME [VAR=value...] [-- ward-api options...]: ward-api
# --etcd with id NAME; its endpoints rotated so the replicas spread over
# the members. Sets URL_<NAME>, PID_<NAME>.
replica_start() {
	local name=$1 eps envs=() opts=(); shift
	local k=${#REPLICAS[@]}
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && { shift; opts=("$@"); }
	IFS=, read -r -a eps <<<"$ETCD_EPS"
	local rot=("${eps[@]:$((k % ${#eps[@]}))}" "${eps[@]:0:$((k % ${#eps[@]}))}")
	rm -f "$T/port.$name"
	env "${envs[@]}" "$API" "${opts[@]}" --etcd "$(IFS=,; echo "${rot[*]}")" \
		--master-key-file "$T/master.key" \
		--replica-id "$name" --leader-ttl "${LEADER_TTL:-2}" --cert "$T/srv.pem" \
		--key "$T/srv.key" --port 0 --port-file "$T/port.$name" serve >>"$T/$name.log" 2>&1 &
	printf -v "PID_$name" '%s' $!
	REPLICAS+=("$name")
	for _ in $(seq 200); do
		[ -s "$T/port.$name" ] && break
		sleep 0.05
	done
	[ -s "$T/port.$name" ] || fail "replica $name did not start"
	printf -v "URL_$name" '%s' "https://127.0.0.1:$(cat "$T/port.$name")"
}

# The replica id that holds the election key now ("" when none).
api_leader() { ectl get --print-value-only ward/leader/api 2>/dev/null || true; }

# wait_for DESC 'CONDITION': polls the shell condition (evaluated anew
# each time) until it holds (bounded: 60 s).
wait_for() {
	local what=$1 cond=$2
	for _ in $(seq 600); do
		eval "$cond" && return 0
		sleep 0.1
	done
	fail "timed out waiting for $what"
}

ha_cleanup() {
	local rc=$? n p
	for p in "${HA_BG[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for n in "${REPLICAS[@]}"; do
		p=PID_$n
		kill -CONT "${!p}" 2>/dev/null || true
		kill "${!p}" 2>/dev/null || true
		wait "${!p}" 2>/dev/null || true
	done
	for p in "${ETCD_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if grep -l "Sanitizer" "$T"/*.log 2>/dev/null; then
		echo "FAIL: sanitizer report from ward-api:"
		grep -h -A30 "Sanitizer" "$T"/*.log | head -60
		rc=1
	fi
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		for n in "${REPLICAS[@]}"; do echo "--- $n"; tail -15 "$T/$n.log"; done
	fi
	rm -rf "$T"
	exit "$rc"
}
