#!/usr/bin/env bash
# EC2 volumes (records) through ward-api, driven only by Debian's aws CLI:
# CreateVolume (Size, Encrypted, KmsKeyId, AvailabilityZone, tags,
# ClientToken: a retry returns the same volume, other parameters are
# IdempotentParameterMismatch), `aws ec2 wait volume-available` and
# `volume-deleted`, DescribeVolumes filters and pagination (every volume
# exactly once across pages), DeleteVolume, the not-found code.
. "$(dirname "$0")/lib.sh"
api_setup
read -r ak sk < <("${A[@]}" admin bootstrap admin) || fail "admin bootstrap"
set_creds admin "$ak" "$sk"
api_start

mk=(as admin ec2 create-volume --availability-zone us-east-1a --encrypted --kms-key-id alias/ward-ebs
    --client-token "retry me/1" --tag-specifications 'ResourceType=volume,Tags=[{Key=app,Value=db}]')
V=$("${mk[@]}" --size 8) || fail "create-volume"
VOL=$(jget VolumeId <<<"$V")
[[ $VOL =~ ^vol-[0-9a-f]{17}$ ]] && [ "$(jget Size <<<"$V")" = 8 ] && [ "$(jget Encrypted <<<"$V")" = True ] \
	&& [ "$(jget KmsKeyId <<<"$V")" = alias/ward-ebs ] && [ "$(jget AvailabilityZone <<<"$V")" = us-east-1a ] \
	|| fail "create-volume reply: $V"
[ "$("${mk[@]}" --size 8 | jget VolumeId)" = "$VOL" ] || fail "a retried ClientToken made another volume"
expect_error IdempotentParameterMismatch "${mk[@]}" --size 9
pass "CreateVolume: encrypted with a KMS key, tagged; a retried ClientToken returns the same volume, other parameters are IdempotentParameterMismatch"

as admin ec2 wait volume-available --volume-ids "$VOL" || fail "wait volume-available"
pass "aws ec2 wait volume-available"

# Five more (at once: concurrent writers each get their own transaction).
pids=()
for i in 1 2 3 4 5; do
	as admin ec2 create-volume --availability-zone us-east-1b --size "$i" > "$T/v$i.json" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "create-volume (concurrent)"; done
for i in 1 2 3 4 5; do jget VolumeId < "$T/v$i.json" >> "$T/made" || fail "create-volume $i"; done
echo "$VOL" >> "$T/made"
before=$(grep -c 'action=DescribeVolumes' "$T/server.log" || true)
as admin ec2 describe-volumes --page-size 5 > "$T/all.json" || fail "describe-volumes --page-size 5"
after=$(grep -c 'action=DescribeVolumes' "$T/server.log")
[ $((after - before)) -eq 2 ] || fail "expected 2 pages, the CLI made $((after - before)) requests"
python3 -c 'import json,sys; print("\n".join(v["VolumeId"] for v in json.load(open(sys.argv[1]))["Volumes"]))' "$T/all.json" \
	| sort > "$T/seen"
sort "$T/made" | cmp -s - "$T/seen" || fail "pages do not hold every volume exactly once: $(cat "$T/seen")"
pass "DescribeVolumes over two pages (MaxResults/NextToken): all six volumes, each once"

[ "$(as admin ec2 describe-volumes --filters Name=encrypted,Values=true Name=tag:app,Values=db | jget Volumes.0.VolumeId)" = "$VOL" ] \
	|| fail "describe-volumes filters"
[ "$(as admin ec2 describe-volumes --filters Name=size,Values=1,2 Name=availability-zone,Values=us-east-1b | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Volumes"]))')" = 2 ] \
	|| fail "describe-volumes size filter"
expect_error InvalidParameterDependency as admin ec2 create-volume --availability-zone us-east-1a --size 1 --kms-key-id alias/x
expect_error MissingParameter as admin ec2 create-volume --availability-zone us-east-1a
pass "DescribeVolumes filters; KmsKeyId needs Encrypted; Size is required"

as admin ec2 delete-volume --volume-id "$VOL" || fail "delete-volume"
as admin ec2 wait volume-deleted --volume-ids "$VOL" || fail "wait volume-deleted"
expect_error InvalidVolume.NotFound as admin ec2 delete-volume --volume-id "$VOL"
R=$("${mk[@]}" --size 8) || fail "ClientToken retry after deletion"
[ "$(jget VolumeId <<<"$R")" = "$VOL" ] && [ "$(jget State <<<"$R")" = deleted ] \
	|| fail "a retried ClientToken after deletion: $R"
pass "DeleteVolume; wait volume-deleted; InvalidVolume.NotFound; the token still means that (deleted) volume"
