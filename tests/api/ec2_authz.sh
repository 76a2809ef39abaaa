#!/usr/bin/env bash
# EC2 authorisation in ward-api, driven only by the aws CLI: ec2:<Action>
# on resource ARNs through the shared policy evaluator (resource-scoped
# Allow, explicit Deny), UnauthorizedOperation with an encoded (sealed)
# message, DryRun (DryRunOperation when allowed, UnauthorizedOperation
# when not), and an assumed role's session credentials calling EC2.
. "$(dirname "$0")/lib.sh"
api_setup
read -r ak sk < <("${A[@]}" admin bootstrap admin) || fail "admin bootstrap"
set_creds admin "$ak" "$sk"
api_start

as admin iam create-user --user-name bob >/dev/null || fail "create-user bob"
as admin iam put-user-policy --user-name bob --policy-name ec2 --policy-document '{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"},
 {"Effect":"Allow","Action":["ec2:CreateVpc","ec2:DeleteVpc"],"Resource":"arn:aws:ec2:us-east-1:111122223333:vpc/*"},
 {"Effect":"Deny","Action":"ec2:DeleteVpc","Resource":"*"},
 {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/vols"}]}' \
	|| fail "put-user-policy"
K=$(as admin iam create-access-key --user-name bob) || fail "create-access-key"
set_creds bob "$(jget AccessKey.AccessKeyId <<<"$K")" "$(jget AccessKey.SecretAccessKey <<<"$K")"

VID=$(as bob ec2 create-vpc --cidr-block 10.9.0.0/16 | jget Vpc.VpcId) || fail "bob may create a VPC"
out=$(as bob ec2 create-volume --availability-zone us-east-1a --size 1 2>&1) && fail "bob created a volume"
grep -q "(UnauthorizedOperation).*Encoded authorization failure message: [A-Za-z0-9+/=]\{40,\}" <<<"$out" \
	|| fail "no UnauthorizedOperation with an encoded message: $out"
grep -q "user/bob\|CreateVolume.*vol-" <<<"${out#*message: }" && fail "the encoded message is readable: $out"
expect_error UnauthorizedOperation as bob ec2 delete-vpc --vpc-id "$VID"
pass "resource-scoped Allow lets bob create a VPC; no Allow -> UnauthorizedOperation (sealed message); explicit Deny wins"

expect_error DryRunOperation as bob ec2 create-vpc --cidr-block 10.8.0.0/16 --dry-run
expect_error DryRunOperation as bob ec2 describe-vpcs --dry-run
expect_error UnauthorizedOperation as bob ec2 create-volume --availability-zone us-east-1a --size 1 --dry-run
[ "$(as bob ec2 describe-vpcs | jget Vpcs.0.VpcId)" = "$VID" ] || fail "a DryRun created a VPC"
pass "DryRun: DryRunOperation when allowed, UnauthorizedOperation when not, and nothing is made"

as admin iam create-role --role-name vols --assume-role-policy-document \
	'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"sts:AssumeRole"}]}' \
	>/dev/null || fail "create-role"
as admin iam put-role-policy --role-name vols --policy-name v --policy-document \
	'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:CreateVolume","ec2:DescribeVolumes"],"Resource":"*"}]}' \
	|| fail "put-role-policy"
C=$(as bob sts assume-role --role-arn arn:aws:iam::111122223333:role/vols --role-session-name s1) || fail "assume-role"
set_creds sess "$(jget Credentials.AccessKeyId <<<"$C")" "$(jget Credentials.SecretAccessKey <<<"$C")" \
	"$(jget Credentials.SessionToken <<<"$C")"
as sess ec2 create-volume --availability-zone us-east-1c --size 2 >/dev/null || fail "the role's session may create a volume"
expect_error UnauthorizedOperation as sess ec2 create-vpc --cidr-block 10.7.0.0/16
pass "an assumed role's session credentials (SigV4 with a session token) call EC2 under the role's policy"
