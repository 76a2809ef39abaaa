#!/usr/bin/env bash
# hosts_test.sh HV_STANDIN ATTEST_TOOL: ward-api's host registry admits a
# host only by attestation (docs/attestation.md). The measured controller
# on swtpm is registered with its EK public as tpm2_createek reads it from
# the TPM (not as the host reports it); ward-api (SQLite, re-attesting
# every second) makes the credential, asks for quotes and verifies them
# against the golden set. Seen through the real `aws ec2 describe-hosts`:
# admitted; drained (reported, nothing killed) when the controller stops
# answering; admitted again once it answers; drained for good when a PCR
# is extended after boot. With etcd installed, a replica on a one-member
# etcd admits the host as the elected leader's task. The test waits on
# states, never on time.
source "$WARD_SOURCE_ROOT/tests/controller/lib.sh"
STANDIN=${1:?hv_standin path} TOOL=${2:?attest_tool path}
source "$WARD_SOURCE_ROOT/tests/attest/lib.sh"
API=$B/src/api/ward-api AWS=/usr/bin/aws
[ -x "$API" ] || { echo "FAIL: $API is missing: the build did not produce it"; exit 1; }
[ -x "$AWS" ] || { echo "SKIP: Debian's aws CLI (/usr/bin/aws) is not installed"; exit 77; }

# The registration's EK comes from the TPM, read before the host boots.
tpm2_createek -c "$W/ek.ctx" -G ecc -u "$W/ek.tss" >/dev/null 2>&1 || { echo "FAIL: tpm2_createek"; exit 1; }
tpm2_flushcontext -t >/dev/null 2>&1
# The idle connection of the stop below must outlive the request deadline.
REQ_TIMEOUT=300
boot "$W/ctl"

A=("$API" --db "$W/api.db" --master-key-file "$W/master.key" --golden "$W/golden"
   --attest-period 1 --controller-cert "$P/cp.pem" --controller-key "$P/cp.key")
read -r AK SK < <("${A[@]}" admin bootstrap admin 2>>"$W/api.log") ||
	{ cat "$W/api.log"; echo "FAIL: bootstrap"; exit 1; }
"${A[@]}" admin register-host h-x "$URL" "$P/ca.pem" "$W/ek.tss" rel-9 2>/dev/null
check "register-host refuses a release the golden set lacks (exit 2)" [ $? = 2 ]
"${A[@]}" admin register-host h-test1 "$URL" "$P/ca.pem" "$W/ek.tss" rel-1 2>>"$W/api.log" ||
	{ cat "$W/api.log"; echo "FAIL: register-host"; exit 1; }
# The same controller registered with an EK of no TPM: its answers come
# from another TPM, whatever they prove.
"$TOOL" fakeek "$W/ek.fake"
"${A[@]}" admin register-host h-fake "$URL" "$P/ca.pem" "$W/ek.fake" rel-1 2>>"$W/api.log" ||
	{ cat "$W/api.log"; echo "FAIL: register-host h-fake"; exit 1; }
rm -f "$W/api.port"
"${A[@]}" --cert "$P/server.pem" --key "$P/server.key" --port 0 --port-file "$W/api.port" \
	serve >>"$W/api.log" 2>&1 &
API_PID=$!
trap 'kill $API_PID 2>/dev/null; ctl_cleanup' EXIT
for _ in $(seq 200); do
	[ -s "$W/api.port" ] && break
	kill -0 "$API_PID" 2>/dev/null || break
	sleep 0.05
done
[ -s "$W/api.port" ] || { cat "$W/api.log"; echo "FAIL: ward-api did not start"; exit 1; }
export AWS_DEFAULT_REGION=us-east-1 AWS_CA_BUNDLE=$P/ca.pem AWS_CONFIG_FILE=$W/aws-config \
	AWS_SHARED_CREDENTIALS_FILE=$W/aws-credentials AWS_MAX_ATTEMPTS=1 AWS_PAGER= \
	AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
: >"$W/aws-config"; : >"$W/aws-credentials"
unset AWS_PROFILE AWS_SESSION_TOKEN
EP=https://127.0.0.1:$(cat "$W/api.port")

# host_state [ID]: "STATE|REASON" of ID (h-test1) through describe-hosts.
host_state() {
	"$AWS" ec2 describe-hosts --endpoint-url "$EP" --host-ids "${1:-h-test1}" \
		--query 'Hosts[0].[State, Tags[?Key==`ward:reason`].Value | [0]]' --output text \
		2>>"$W/aws.err" | tr '\t' '|'
}
# wait_state STATE [ID]: until ID (h-test1) is in STATE. ward-api logs each change
# of state ("host admitted", "host drained"): wait for the next such line
# (the aws CLI takes seconds per call on a loaded machine: it only confirms),
# then read the state through describe-hosts. The bound only ends a hung test.
wait_state() {
	local n h=${2:-h-test1}
	for _ in $(seq 300); do
		n=$(grep -c "msg=\"host $1\" host=$h " "$W/api.log")
		[ "$n" -gt "${SEEN_[$1$h]:-0}" ] && break
		kill -0 "$API_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	SEEN_[$1$h]=$n
	ST=$(host_state "$h")
	[ "${ST%%|*}" = "$1" ]
}
declare -A SEEN_

check "a healthy host is admitted" wait_state admitted
echo "  $ST"
check "...because its quote verified against its release" grep -q "quote verified against release rel-1" <<<"$ST"
check "the host registered with another EK is drained" wait_state drained h-fake
echo "  $ST"
check "...because the controller's EK is not the registered one" grep -q "EK is not the registered" <<<"$ST"
check "describe-hosts filters by state (admitted: h-test1)" \
	[ "$("$AWS" ec2 describe-hosts --endpoint-url "$EP" --filter Name=state,Values=admitted \
		--query 'Hosts[].HostId' --output text)" = h-test1 ]

# The controller stops answering (SIGTERM: a clean stop, exit status 0
# and no sanitizer report): drained, not forgotten. It stops with a
# connection no handler has reached, as ward-api's rounds leave one now
# and then (a handshake under way): a plain TCP one held open here, so one
# is always there. The request after it is answered only once the listener
# has accepted the idle one (accepts are in order).
exec 4<>"/dev/tcp/127.0.0.1/${URL##*:}"
check "the controller answers while a connection idles" curl -sf -o /dev/null \
	--cacert "$P/ca.pem" --cert "$P/cp.pem" --key "$P/cp.key" "$URL/v1/attestation/keys"
stop_ctl
exec 4>&-
check "...and its audit log records the connection the stop cut" \
	grep -q '"outcome":"shutdown"' "$S/audit/leaves"
check "a host whose controller does not answer is drained" wait_state drained
echo "  $ST"
check "...with the reason" grep -q "unreachable" <<<"$ST"
LISTEN=${URL#https://} start "$W/ctl"	# the same boot, the registered address
check "it is admitted again once it answers (re-attestation)" wait_state admitted

# The same on etcd (docs/ha.md): there the round is the elected leader's
# task (leader_add_task) and its verdicts are fenced writes in etcd.
if command -v etcd >/dev/null && command -v etcdctl >/dev/null; then
	read -r EC EPEER < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
	ECTL=(env ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$EC" --command-timeout 5s)
	etcd --name e0 --data-dir "$W/etcd" --listen-client-urls "http://127.0.0.1:$EC" \
		--advertise-client-urls "http://127.0.0.1:$EC" --listen-peer-urls "http://127.0.0.1:$EPEER" \
		--initial-advertise-peer-urls "http://127.0.0.1:$EPEER" \
		--initial-cluster "e0=http://127.0.0.1:$EPEER" --logger zap \
		--log-outputs "$W/etcd.log" >/dev/null 2>&1 &
	ETCD_PID=$!
	trap 'kill $API_PID $ETCD_PID ${API2_PID:-} 2>/dev/null; ctl_cleanup' EXIT
	for _ in $(seq 300); do "${ECTL[@]}" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
	E=("$API" --etcd "http://127.0.0.1:$EC" --master-key-file "$W/master.key" --golden "$W/golden"
	   --attest-period 1 --controller-cert "$P/cp.pem" --controller-key "$P/cp.key"
	   --leader-ttl 2 --replica-id r1)
	"${E[@]}" admin register-host h-etcd "$URL" "$P/ca.pem" "$W/ek.tss" rel-1 2>>"$W/api2.log" ||
		fail "register-host on etcd"
	"${E[@]}" --cert "$P/server.pem" --key "$P/server.key" --port 0 \
		--port-file "$W/api2.port" serve >>"$W/api2.log" 2>&1 &
	API2_PID=$!
	for _ in $(seq 600); do
		grep -q 'msg="host admitted" host=h-etcd ' "$W/api2.log" && break
		kill -0 "$API2_PID" 2>/dev/null || break
		sleep 0.1
	done
	check "on etcd, the leader's round admits the host" \
		grep -q 'msg="host admitted" host=h-etcd ' "$W/api2.log"
	etcd_doc() { "${ECTL[@]}" get ward/data/ec2/host/h-etcd --print-value-only 2>/dev/null; }
	check "...and its verdict is the document in etcd" grep -q '"State":"admitted"' <(etcd_doc)
	kill "$API2_PID" "$ETCD_PID" 2>/dev/null; wait "$API2_PID" "$ETCD_PID" 2>/dev/null
	grep -q Sanitizer "$W/api2.log" && { fail "sanitizer report from ward-api on etcd"; grep -A30 Sanitizer "$W/api2.log" | head -40; }
else
	echo "note: etcd is not installed: the leader-task path (--etcd) is not exercised here"
fi

# A PCR extended after boot: every later quote fails, the host is drained.
tpm2_pcrextend 15:sha256=$(printf '%064d' 5) >/dev/null 2>&1 || fail "tpm2_pcrextend"
check "a host with a PCR extended after boot is drained" wait_state drained
echo "  $ST"
check "...because its log no longer replays to its quote" grep -q "does not replay" <<<"$ST"
kill "$API_PID"; wait "$API_PID" 2>/dev/null
check "ward-api logged the drain with its reason" grep -q 'msg="host drained" host=h-test1' "$W/api.log"
if grep -q Sanitizer "$W/api.log"; then
	fail "sanitizer report from ward-api"; grep -A30 Sanitizer "$W/api.log" | head -40
fi
stop_ctl
finish
