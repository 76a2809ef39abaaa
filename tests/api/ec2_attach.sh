#!/usr/bin/env bash
# ec2_attach.sh HV_STANDIN ATTEST_TOOL: AttachVolume, DetachVolume and
# DescribeImages in ward-api (docs/api.md#volume-attachments, #images),
# driven only by /usr/bin/aws. A measured controller on swtpm (its ward-hv
# the stand-in: no guest runs, this machine may lack /dev/kvm) is admitted
# by attestation; DescribeImages lists what its store holds (read by the
# reconciler from GET /v1/images), and RunInstances refuses an image no
# admitted host holds; volumes attach to a stopped instance
# (attaching -> attached, the volume-in-use waiter), refusals of
# attach and detach (a representative few: the full table is
# ec2_attach_units'), DeleteVolume's VolumeInUse, detach (the
# volume-available waiter), terminate releasing the instance's volumes, a
# kill -9 of ward-api right after an acknowledged attach (the attachment
# completes after the restart), and a detach from a running instance that
# reaches the host: its controller's DELETE /v1/instances/{id}/volumes/{vid};
# and CreateTags/DescribeTags on the instance and a volume.
# The test waits on ward-api's log lines for transitions, never on time.
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
# api_start: serve, on a fresh port, and point EP at it.
api_start() {
	rm -f "$W/api.port"
	"${A[@]}" --cert "$P/server.pem" --key "$P/server.key" --port 0 --port-file "$W/api.port" \
		serve >>"$W/api.log" 2>&1 &
	API_PID=$!
	for _ in $(seq 200); do
		[ -s "$W/api.port" ] && break
		kill -0 "$API_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -s "$W/api.port" ] || { cat "$W/api.log"; echo "FAIL: ward-api did not start"; exit 1; }
	EP=https://127.0.0.1:$(cat "$W/api.port")
}
api_start
trap 'kill $API_PID 2>/dev/null; ctl_cleanup' EXIT
export AWS_DEFAULT_REGION=us-east-1 AWS_CA_BUNDLE=$P/ca.pem AWS_CONFIG_FILE=$W/aws-config \
	AWS_SHARED_CREDENTIALS_FILE=$W/aws-credentials AWS_MAX_ATTEMPTS=1 AWS_PAGER= \
	AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
: >"$W/aws-config"; : >"$W/aws-credentials"
unset AWS_PROFILE AWS_SESSION_TOKEN
ec2() { "$AWS" ec2 --endpoint-url "$EP" "$@" 2>>"$W/aws.err"; }
# bg NAME aws-args...: one aws ec2 call in the background, its output and
# errors in $W/NAME (each CLI start costs seconds: independent ones overlap).
J=()
bg() { local n=$1; shift; "$AWS" ec2 --endpoint-url "$EP" "$@" >"$W/$n" 2>&1 & J+=($!); }
join() { wait "${J[@]}"; J=(); }
has() { grep -q "$2" "$W/$1" || { echo "  $1: $(head -c 300 "$W/$1")"; return 1; }; }
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

"${A[@]}" admin register-host h-test1 "$URL" "$P/ca.pem" "$W/ek.tss" rel-1 2>>"$W/api.log" ||
	{ cat "$W/api.log"; echo "FAIL: register-host"; exit 1; }
check "the host is admitted, its images and capacity read" \
	wait_log 'msg="host capacity" host=h-test1' 1

# Each stage's aws calls are independent of each other and overlap; their
# answers are checked after it. Every CLI start costs ~1.5 s of CPU, so
# this test makes a representative few of each kind of refusal (that
# botocore reads ward's error shape for these actions); the full table of
# refusals is ec2_attach_units', in-process.

# ---- DescribeImages: the host's store as EC2 images ----
bg images describe-images --query \
	'Images[].[ImageId,Name,State,Architecture,ImageLocation]' --output text
bg nofound describe-images --image-ids ami-nothere
bg runbad run-instances --image-id ami-nothere
bg run run-instances --image-id ami-hello --instance-type t3.micro --query \
	'Instances[0].InstanceId' --output text
V=(create-volume --size 1 --availability-zone us-east-1a --query VolumeId --output text)
bg v1 "${V[@]}"
bg v2 "${V[@]}"
bg vb create-volume --size 1 --availability-zone us-east-1b --query VolumeId --output text
join
check "describe-images lists the host store's hello ($(tr '\t\n' ' ;' <"$W/images"))" \
	grep -qx $'ami-hello\thello\tavailable\tx86_64\tfirmware-store/hello' "$W/images"
check "an image no admitted host has: InvalidAMIID.NotFound" has nofound InvalidAMIID.NotFound
check "run-instances of an image no admitted host holds: InvalidAMIID.NotFound" \
	has runbad InvalidAMIID.NotFound
I=$(cat "$W/run") V1=$(cat "$W/v1") V2=$(cat "$W/v2") VB=$(cat "$W/vb")
check "the instance runs ($I)" wait_log "msg=\"instance running\" instance=$I" 1

# ---- AttachVolume: refused while running, then to the stopped instance ----
# Before or after the stop is processed, the attach is refused: the
# instance is running or stopping.
bg running attach-volume --volume-id "$V1" --instance-id "$I" --device /dev/sdf
bg stop stop-instances --instance-ids "$I"
join
check "attach to a running instance (no hot-plug): IncorrectState" has running IncorrectState
check "the reconciler stopped it" wait_log "msg=\"instance stopped\" instance=$I" 1
AT=(attach-volume --instance-id "$I" --device /dev/sdf)
bg zone "${AT[@]}" --volume-id "$VB"
bg attach "${AT[@]}" --volume-id "$V1" --query '[State,Device,InstanceId]' --output text
join
check "a volume in another zone: InvalidVolume.ZoneMismatch" has zone InvalidVolume.ZoneMismatch
check "attach-volume: attaching" [ "$(cat "$W/attach")" = "attaching	/dev/sdf	$I" ]

bg again "${AT[@]}" --volume-id "$V1"
bg delete delete-volume --volume-id "$V1"
bg start start-instances --instance-ids "$I"
bg inuse wait volume-in-use --volume-ids "$V1"
bg tag create-tags --resources "$I" "$V1" --tags Key=team,Value=blue Key=env,Value=dev
join
check "the volume again: VolumeInUse" has again VolumeInUse
check "delete-volume of an attached volume: VolumeInUse" has delete VolumeInUse
check "start with a volume attached (the launch does not carry volumes yet): UnsupportedOperation" \
	has start UnsupportedOperation
check "aws ec2 wait volume-in-use" [ ! -s "$W/inuse" ]
check "create-tags on the instance and the volume" [ ! -s "$W/tag" ]
check "the reconciler attached it" wait_log "msg=\"volume attached\" volume=$V1" 1
bg desc describe-volumes --volume-ids "$V1" --query \
	'Volumes[0].[State,Attachments[0].State,Attachments[0].Device,Attachments[0].InstanceId]' \
	--output text
bg attach2 "${AT[@]}" --volume-id "$V2" --device /dev/sdg --query State --output text
bg bdm describe-instances --instance-ids "$I" --query "Reservations[0].Instances[0].\
BlockDeviceMappings[?DeviceName=='/dev/sdf'].[DeviceName,Ebs.VolumeId,Ebs.Status]" --output text
bg tags describe-tags --filters "Name=resource-id,Values=$I,$V1" Name=key,Values=team,env \
	--query 'Tags[].[ResourceId,ResourceType,Key,Value]' --output text
join
check "describe-volumes: in-use, attachment attached at /dev/sdf" \
	[ "$(cat "$W/desc")" = "in-use	attached	/dev/sdf	$I" ]
check "attach-volume of a second volume (/dev/sdg)" [ "$(cat "$W/attach2")" = attaching ]
check "describe-instances: the volume in its BlockDeviceMappings" \
	[ "$(cat "$W/bdm")" = "/dev/sdf	$V1	attached" ]
check "describe-tags: both resources, both tags" [ "$(sort "$W/tags" | tr '\t\n' ' ;')" = \
	"$(printf '%s\n' "$I instance env dev" "$I instance team blue" "$V1 volume env dev" \
	   "$V1 volume team blue" | sort | tr '\n' ';')" ]

# ---- kill -9 right after an acknowledged attach: nothing lost ----
kill -9 "$API_PID"; wait "$API_PID" 2>/dev/null
api_start
check "after kill -9 and a restart the attachment completes" \
	wait_log "msg=\"volume attached\" volume=$V2" 1

# ---- DetachVolume ----
bg wrong detach-volume --volume-id "$V2" --instance-id i-0123456789abcdef0
bg never detach-volume --volume-id "$VB"
bg detach detach-volume --volume-id "$V1" --query State --output text
join
check "detach naming another instance: InvalidAttachment.NotFound" has wrong InvalidAttachment.NotFound
check "detach of an unattached volume: IncorrectState" has never IncorrectState
check "detach-volume: detaching" [ "$(cat "$W/detach")" = detaching ]
check "the reconciler detached it" wait_log "msg=\"volume detached\" volume=$V1" 1
bg avail wait volume-available --volume-ids "$V1"
bg terminate terminate-instances --instance-ids "$I"
join
check "aws ec2 wait volume-available" [ ! -s "$W/avail" ]
check "terminate: its volume detaches once it ended" \
	wait_log "msg=\"volume detached\" volume=$V2" 1
bg del1 delete-volume --volume-id "$V1"
bg run2 run-instances --image-id ami-hello --query 'Instances[0].InstanceId' --output text
bg itags describe-instances --instance-ids "$I" --query \
	'Reservations[0].Instances[0].[State.Name, join(`,`, sort(Tags[].Key))]' --output text
join
check "the detached volume deletes" [ ! -s "$W/del1" ]
check "the terminated instance kept its tags through the reconciler's writes" \
	[ "$(cat "$W/itags")" = "terminated	env,team" ]

# ---- a detach that reaches the host ----
# A launch that carries volumes is not built yet (docs/api.md): the record
# of a running instance with an attached volume is written here, as that
# launch will leave it, while ward-api is stopped. The detach then goes to
# the controller, which answers for its instance (no card: 404, "gone").
I2=$(cat "$W/run2")
check "a second instance runs ($I2)" wait_log "msg=\"instance running\" instance=$I2" 1
kill "$API_PID"; wait "$API_PID" 2>/dev/null
python3 - "$W/api.db" "$I2" "$V2" <<'PY' || fail "store edit"
import sqlite3, sys, json
db = sqlite3.connect(sys.argv[1])
i, v = sys.argv[2], sys.argv[3]
(doc,) = db.execute("SELECT value FROM kv WHERE key=?", ("ec2/volume/" + v,)).fetchone()
o = json.loads(doc)
o["Attachments"] = [{"InstanceId": i, "Device": "/dev/sdf", "State": "attached",
                     "AttachTime": o["Created"], "DeleteOnTermination": False}]
o.update(State="in-use", AttachedTo=i, AttachState="attached", AttachDevice="/dev/sdf")
db.execute("UPDATE kv SET value=? WHERE key=?", (json.dumps(o), "ec2/volume/" + v))
db.execute("INSERT INTO kv(key, value) VALUES(?, '{}')", ("ec2/instancevolume/%s/%s" % (i, v),))
db.commit()
PY
api_start
check "detach from the running instance: detaching" [ "$(ec2 detach-volume --volume-id "$V2" \
	--query State --output text)" = detaching ]
check "the reconciler asked the host and recorded the detach" \
	wait_log "msg=\"volume detached\" volume=$V2 instance=$I2" 1
check "...through the controller's DELETE of that volume (its audit log)" \
	grep -aq "\"DELETE\".*/v1/instances/[^\"]*/volumes/$V2" "$S/audit/leaves"

kill "$API_PID"; wait "$API_PID" 2>/dev/null
if grep -q Sanitizer "$W/api.log"; then
	fail "sanitizer report from ward-api"; grep -A30 Sanitizer "$W/api.log" | head -40
fi
[ "$FAILS" -eq 0 ] || { tail -30 "$W/api.log"; tail -20 "$W/aws.err"; }
stop_ctl
finish
