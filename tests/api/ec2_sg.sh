#!/usr/bin/env bash
# EC2 security groups through ward-api, driven only by Debian's aws CLI:
# CreateSecurityGroup (names unique per VPC), Authorize/Revoke Ingress and
# Egress with IpPermissions (IpRanges with descriptions, group pairs of the
# same VPC, tcp/udp ports, icmp, -1), duplicates and missing rules, and
# DeleteSecurityGroup (the default group stays; a referenced group is a
# DependencyViolation).
. "$(dirname "$0")/lib.sh"
api_setup
read -r ak sk < <("${A[@]}" admin bootstrap admin) || fail "admin bootstrap"
set_creds admin "$ak" "$sk"
api_start

VID=$(as admin ec2 create-vpc --cidr-block 10.1.0.0/16 | jget Vpc.VpcId) || fail "create-vpc"
WEB=$(as admin ec2 create-security-group --vpc-id "$VID" --group-name web --description "web servers" \
	--tag-specifications 'ResourceType=security-group,Tags=[{Key=tier,Value=front}]' | jget GroupId) \
	|| fail "create-security-group web"
DB=$(as admin ec2 create-security-group --vpc-id "$VID" --group-name db --description "databases" | jget GroupId) \
	|| fail "create-security-group db"
expect_error InvalidGroup.Duplicate as admin ec2 create-security-group --vpc-id "$VID" --group-name web --description again
pass "CreateSecurityGroup; a name is unique within its VPC"

as admin ec2 authorize-security-group-ingress --group-id "$WEB" --protocol tcp --port 443 --cidr 0.0.0.0/0 >/dev/null \
	|| fail "authorize ingress (--protocol/--port/--cidr)"
as admin ec2 authorize-security-group-ingress --group-id "$DB" --ip-permissions \
	"IpProtocol=tcp,FromPort=5432,ToPort=5432,UserIdGroupPairs=[{GroupId=$WEB,Description=from-web}]" \
	'IpProtocol=icmp,FromPort=8,ToPort=-1,IpRanges=[{CidrIp=10.1.0.0/16,Description=ping}]' >/dev/null \
	|| fail "authorize ingress (IpPermissions with a group pair and icmp)"
as admin ec2 authorize-security-group-egress --group-id "$DB" --ip-permissions \
	'IpProtocol=udp,FromPort=53,ToPort=53,IpRanges=[{CidrIp=10.1.0.2/32}]' >/dev/null || fail "authorize egress"
expect_error InvalidPermission.Duplicate as admin ec2 authorize-security-group-ingress --group-id "$WEB" \
	--protocol tcp --port 443 --cidr 0.0.0.0/0
expect_error InvalidParameterValue as admin ec2 authorize-security-group-ingress --group-id "$WEB" \
	--protocol tcp --port 70000 --cidr 0.0.0.0/0
pass "AuthorizeSecurityGroupIngress/Egress: CIDR and group peers, icmp type/code, duplicates and bad ports refused"

as admin ec2 describe-security-groups --group-ids "$DB" > "$T/db.json" || fail "describe-security-groups"
python3 - "$T/db.json" "$WEB" <<'PY' || fail "describe-security-groups content: $(cat "$T/db.json")"
import json, sys
g = json.load(open(sys.argv[1]))["SecurityGroups"]
assert len(g) == 1, g
g = g[0]
ing = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")): p for p in g["IpPermissions"]}
pg = ing[("tcp", 5432, 5432)]["UserIdGroupPairs"]
assert pg == [{"GroupId": sys.argv[2], "UserId": "111122223333", "Description": "from-web"}], pg
assert ing[("icmp", 8, -1)]["IpRanges"] == [{"CidrIp": "10.1.0.0/16", "Description": "ping"}], ing
eg = {(p["IpProtocol"], p.get("FromPort")): p for p in g["IpPermissionsEgress"]}
assert eg[("-1", None)]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}], eg
assert eg[("udp", 53)]["IpRanges"] == [{"CidrIp": "10.1.0.2/32"}], eg
PY
[ "$(as admin ec2 describe-security-groups --filters Name=tag:tier,Values=front Name=group-name,Values='w?b' | jget SecurityGroups.0.GroupId)" = "$WEB" ] \
	|| fail "describe-security-groups by tag and name filters"
pass "DescribeSecurityGroups: rules grouped into IpPermissions as botocore reads them; filters"

as admin ec2 revoke-security-group-ingress --group-id "$WEB" --protocol tcp --port 443 --cidr 0.0.0.0/0 >/dev/null \
	|| fail "revoke ingress"
expect_error InvalidPermission.NotFound as admin ec2 revoke-security-group-ingress --group-id "$WEB" \
	--protocol tcp --port 443 --cidr 0.0.0.0/0
as admin ec2 revoke-security-group-egress --group-id "$DB" --ip-permissions \
	'IpProtocol=udp,FromPort=53,ToPort=53,IpRanges=[{CidrIp=10.1.0.2/32}]' >/dev/null || fail "revoke egress"
pass "RevokeSecurityGroupIngress/Egress; revoking a missing rule is InvalidPermission.NotFound"

DEF=$(as admin ec2 describe-security-groups --filters "Name=vpc-id,Values=$VID" Name=group-name,Values=default | jget SecurityGroups.0.GroupId)
expect_error CannotDelete as admin ec2 delete-security-group --group-id "$DEF"
expect_error DependencyViolation as admin ec2 delete-security-group --group-id "$WEB"
as admin ec2 delete-security-group --group-id "$DB" >/dev/null || fail "delete db"
as admin ec2 delete-security-group --group-id "$WEB" >/dev/null || fail "delete web once unreferenced"
expect_error InvalidGroup.NotFound as admin ec2 delete-security-group --group-id "$WEB"
pass "DeleteSecurityGroup: not the default group, not while another group's rule names it; InvalidGroup.NotFound"
