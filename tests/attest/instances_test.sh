#!/usr/bin/env bash
# instances_test.sh HV_STANDIN ATTEST_TOOL: EC2 instances in ward-api
# (docs/api.md#instances), driven only by /usr/bin/aws. A measured
# controller on swtpm (its ward-hv the stand-in: no guest runs, this
# machine may lack /dev/kvm) is admitted by attestation; run-instances
# places on it in the request's transaction, the reconciler launches on the
# controller and writes pending->running; describe (ids, filters,
# pagination), stop/start, terminate, ClientToken retries, an unauthorised
# user, InsufficientInstanceCapacity before any host is admitted, and a
# kill -9 of ward-api during RunInstances (nothing acknowledged lost). The
# controller's own list is read back: each instance runs there once. The
# test waits on ward-api's log lines for transitions, never on time.
source "$WARD_SOURCE_ROOT/tests/controller/lib.sh"
STANDIN=${1:?hv_standin path} TOOL=${2:?attest_tool path}
source "$WARD_SOURCE_ROOT/tests/attest/lib.sh"
API=$B/src/api/ward-api AWS=/usr/bin/aws
[ -x "$API" ] || { echo "FAIL: $API is missing: the build did not produce it"; exit 1; }
[ -x "$AWS" ] || { echo "SKIP: Debian's aws CLI (/usr/bin/aws) is not installed"; exit 77; }

tpm2_createek -c "$W/ek.ctx" -G ecc -u "$W/ek.tss" >/dev/null 2>&1 || { echo "FAIL: tpm2_createek"; exit 1; }
tpm2_flushcontext -t >/dev/null 2>&1
boot "$W/ctl"

A=("$API" --db "$W/api.db" --master-key-file "$W/master.key" --golden "$W/golden"
   --attest-period 60 --controller-cert "$P/cp.pem" --controller-key "$P/cp.key")
read -r AK SK < <("${A[@]}" admin bootstrap admin 2>>"$W/api.log") ||
	{ cat "$W/api.log"; echo "FAIL: bootstrap"; exit 1; }
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
ec2() { "$AWS" ec2 --endpoint-url "$EP" "$@" 2>>"$W/aws.err"; }
# wait_log PATTERN N: until ward-api's log has N lines matching PATTERN.
# The bound only ends a hung test.
wait_log() {
	for _ in $(seq 900); do
		[ "$(grep -c "$1" "$W/api.log")" -ge "$2" ] && return 0
		kill -0 "$API_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# on_host: the controller's running instances, as ward-api's identity sees them.
on_host() {
	curl -s --cacert "$P/ca.pem" --cert "$P/cp.pem" --key "$P/cp.key" "$URL/v1/instances" |
		python3 -c 'import json,sys; print(sum(1 for i in json.load(sys.stdin)["instances"] if i["state"]=="running"))'
}
RUN=(run-instances --image-id ami-hello --instance-type t3.micro)

# Independent aws calls run side by side (each CLI start costs seconds):
# their answers are checked after.
"$AWS" ec2 --endpoint-url "$EP" "${RUN[@]}" >"$W/nocap" 2>&1 &
NOCAP=$!

# A user with no policy at all.
"$AWS" iam --endpoint-url "$EP" create-user --user-name bob >/dev/null 2>>"$W/aws.err"
K=$("$AWS" iam --endpoint-url "$EP" create-access-key --user-name bob --query \
	'AccessKey.[AccessKeyId,SecretAccessKey]' --output text 2>>"$W/aws.err")
out=$(AWS_ACCESS_KEY_ID=${K%%$'\t'*} AWS_SECRET_ACCESS_KEY=${K##*$'\t'} \
	"$AWS" ec2 --endpoint-url "$EP" "${RUN[@]}" 2>&1)
check "a user without ec2:RunInstances gets UnauthorizedOperation" grep -q UnauthorizedOperation <<<"$out"
wait "$NOCAP"
check "no admitted host: InsufficientInstanceCapacity" grep -q InsufficientInstanceCapacity "$W/nocap"

"${A[@]}" admin register-host h-test1 "$URL" "$P/ca.pem" "$W/ek.tss" rel-1 2>>"$W/api.log" ||
	{ cat "$W/api.log"; echo "FAIL: register-host"; exit 1; }
check "the host is admitted and its capacity read" wait_log 'msg="host capacity" host=h-test1' 1

TAGS='ResourceType=instance,Tags=[{Key=Name,Value=web}]'
R1=$(ec2 "${RUN[@]}" --count 3 --client-token tok-1 --tag-specifications "$TAGS" \
	--query '[ReservationId, join(`,`, Instances[].InstanceId), join(`,`, Instances[].State.Name)]' \
	--output text)
read -r RID IDS STATES <<<"$R1"
check "run-instances --count 3: one reservation of 3 pending instances ($R1)" \
	[ "$STATES" = pending,pending,pending ]
IFS=, read -r I1 I2 I3 <<<"$IDS"
IDS2=$(ec2 "${RUN[@]}" --count 3 --query 'Instances[].InstanceId' --output text)
check "the reconciler launched all six on the host" wait_log 'msg="instance running"' 6
check "aws ec2 wait instance-running" ec2 wait instance-running --instance-ids "$I1" "$I2" "$I3"
check "the controller runs each instance once (6)" [ "$(on_host)" = 6 ]
"$AWS" ec2 --endpoint-url "$EP" "${RUN[@]}" --count 3 --client-token tok-1 \
	--tag-specifications "$TAGS" --query '[ReservationId, join(`,`, Instances[].InstanceId)]' \
	--output text >"$W/replay" 2>&1 &
J=($!)
"$AWS" ec2 --endpoint-url "$EP" "${RUN[@]}" --count 2 --client-token tok-1 >"$W/mismatch" 2>&1 &
J+=($!)
ec2 describe-instances --filters Name=tag:Name,Values=web Name=instance-state-name,Values=running \
	--query 'Reservations[].[ReservationId, length(Instances)]' --output text >"$W/filter" &
J+=($!)
ec2 describe-instances --page-size 5 --query 'Reservations[].Instances[].InstanceId' \
	--output text >"$W/pages" &
J+=($!)
wait "${J[@]}"
check "a retried ClientToken answers the same reservation" [ "$(cat "$W/replay")" = "$RID	$IDS" ]
check "the token with other parameters: IdempotentParameterMismatch" \
	grep -q IdempotentParameterMismatch "$W/mismatch"
check "describe by filter (tag:Name=web, running): the 3 of the reservation" \
	[ "$(cat "$W/filter")" = "$RID	3" ]
check "describe pages of 5 (MaxResults/NextToken) give all 6 once" \
	[ "$(tr '\t' '\n' <"$W/pages" | sort -u | wc -l)" = 6 ]

check "stop-instances: stopping (64)" [ "$(ec2 stop-instances --instance-ids "$I1" --query \
	'StoppingInstances[0].[CurrentState.Code, PreviousState.Name]' --output text)" = "64	running" ]
check "the reconciler stopped it on the host" wait_log "msg=\"instance stopped\" instance=$I1" 1
check "...and the controller no longer runs it (5)" [ "$(on_host)" = 5 ]
check "start-instances: pending (0) from stopped (80)" [ "$(ec2 start-instances --instance-ids "$I1" \
	--query 'StartingInstances[0].[CurrentState.Code, PreviousState.Code]' --output text)" = "0	80" ]
check "...placed and launched again" wait_log "msg=\"instance running\" instance=$I1" 2
check "the controller runs 6 again" [ "$(on_host)" = 6 ]

ALL="$I1 $I2 $I3 $IDS2"
check "terminate-instances: shutting-down (32)" [ "$(ec2 terminate-instances --instance-ids $ALL \
	--query 'TerminatingInstances[].CurrentState.Code' --output text | tr '\t' ' ')" = "32 32 32 32 32 32" ]
check "the reconciler ended them on the host" wait_log 'msg="instance terminated"' 6
check "aws ec2 wait instance-terminated" ec2 wait instance-terminated --instance-ids $ALL
check "the controller runs none" [ "$(on_host)" = 0 ]
"$AWS" ec2 --endpoint-url "$EP" start-instances --instance-ids "$I2" >"$W/incorrect" 2>&1 &
J=($!)
"$AWS" ec2 --endpoint-url "$EP" describe-instances --instance-ids i-0123456789abcdef0 \
	>"$W/notfound" 2>&1 &
J+=($!)
wait "${J[@]}"
check "starting a terminated instance: IncorrectInstanceState" grep -q IncorrectInstanceState "$W/incorrect"
check "an unknown id: InvalidInstanceID.NotFound" grep -q InvalidInstanceID.NotFound "$W/notfound"

# kill -9 of ward-api while RunInstances requests with client tokens run:
# every acknowledged reservation survives, its token still answers it, and
# instance records and token records agree (botocore sends a token with
# every RunInstances; both are written in one transaction).
: >"$W/acked"
(
	for n in $(seq 40); do
		id=$("$AWS" ec2 --endpoint-url "$EP" "${RUN[@]}" --client-token "crash-$n" --query \
			'Instances[0].InstanceId' --output text 2>/dev/null) || exit 0
		echo "crash-$n $id" >>"$W/acked"
	done
) &
WR=$!
for _ in $(seq 1200); do
	[ "$(wc -l <"$W/acked")" -ge 2 ] && break
	kill -0 "$WR" 2>/dev/null || break
	sleep 0.1
done
kill -9 "$API_PID"; wait "$API_PID" 2>/dev/null
wait "$WR"
rm -f "$W/api.port"
"${A[@]}" --cert "$P/server.pem" --key "$P/server.key" --port 0 --port-file "$W/api.port" \
	serve >>"$W/api.log" 2>&1 &
API_PID=$!
for _ in $(seq 200); do
	[ -s "$W/api.port" ] && break
	kill -0 "$API_PID" 2>/dev/null || break
	sleep 0.05
done
EP=https://127.0.0.1:$(cat "$W/api.port")
read -r TOK LAST < <(tail -1 "$W/acked")
ec2 describe-instances --instance-ids $(cut -d' ' -f2 "$W/acked") --query \
	'length(Reservations[].Instances[])' --output text >"$W/survived" &
J=($!)
ec2 "${RUN[@]}" --client-token "$TOK" --query 'Instances[0].InstanceId' --output text \
	>"$W/retried" &
J+=($!)
wait "${J[@]}"
check "after kill -9: $(wc -l <"$W/acked") acknowledged reservations all stored" \
	[ "$(cat "$W/survived")" = "$(wc -l <"$W/acked")" ]
check "...and the retried token $TOK answers $LAST" [ "$(cat "$W/retried")" = "$LAST" ]
check "...and the instances and their token records agree (one transaction)" \
	python3 - "$W/api.db" <<'PY'
import sqlite3, sys, json
db = sqlite3.connect(sys.argv[1])
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
inst = {k.split("/")[2] for (k,) in db.execute("SELECT key FROM kv WHERE key LIKE 'ec2/instance/%'")}
tok = set()
for (v,) in db.execute("SELECT value FROM kv WHERE key LIKE 'ec2/clienttoken/%'"):
    tok |= set(json.loads(v)["InstanceIds"])
# botocore sends a token with every RunInstances: all instances have one.
assert tok == inst, tok ^ inst
PY

# The crash window between the controller's launch and ward-api's record
# (docs/controller.md "Idempotent launch"): the launch POST that a killed
# ward-api made is made here, with the instance id as client_token, beside
# the reconciler's own. In either order the host runs it once: the later
# POST is answered 200 with the same instance.
NEW=$(ec2 "${RUN[@]}" --query 'Instances[0].InstanceId' --output text)
ST=$(curl -s -o "$W/early" -w '%{http_code}' --cacert "$P/ca.pem" --cert "$P/cp.pem" \
	--key "$P/cp.key" -H 'Content-Type: application/json' --data-binary \
	'{"image":"hello","vcpus":2,"memory_mib":1024,"cpu":"burstable","client_token":"'"$NEW"'"}' \
	"$URL/v1/instances")
check "a launch of $NEW under its id as token: $ST (201, or 200 after the reconciler's)" \
	bash -c "[ '$ST' = 201 ] || [ '$ST' = 200 ]"
check "...ward-api records it running" wait_log "msg=\"instance running\" instance=$NEW " 1
curl -s --cacert "$P/ca.pem" --cert "$P/cp.pem" --key "$P/cp.key" "$URL/v1/instances" >"$W/hostlist"
HI=$(grep "msg=\"instance running\" instance=$NEW " "$W/api.log" | sed -n 's/.*on_host=\([^ ]*\).*/\1/p' | head -1)
check "...and the controller runs it once, under the host instance ward-api recorded ($HI)" \
	python3 - "$W/early" "$NEW" "$HI" "$W/hostlist" <<'PY'
import json, sys
mine = [i for i in json.load(open(sys.argv[4]))["instances"]
        if i.get("client_token") == sys.argv[2] and i["state"] == "running"]
assert len(mine) == 1, mine
assert mine[0]["id"] == json.load(open(sys.argv[1]))["id"] == sys.argv[3], (mine, sys.argv[3])
PY

kill "$API_PID"; wait "$API_PID" 2>/dev/null
if grep -q Sanitizer "$W/api.log"; then
	fail "sanitizer report from ward-api"; grep -A30 Sanitizer "$W/api.log" | head -40
fi
[ "$FAILS" -eq 0 ] || { tail -30 "$W/api.log"; tail -20 "$W/aws.err"; }
stop_ctl
finish
