#!/usr/bin/env bash
# EC2 VPCs and subnets through ward-api, driven only by Debian's aws CLI:
# CreateVpc (CIDR /16../28, no host bits; a default security group comes
# with it), CreateSubnet (inside its VPC, no overlap, a zone of the
# region), filters, the not-found codes, DeleteVpc's DependencyViolation.
. "$(dirname "$0")/lib.sh"
api_setup
read -r ak sk < <("${A[@]}" admin bootstrap admin) || fail "admin bootstrap"
set_creds admin "$ak" "$sk"
api_start

V=$(as admin ec2 create-vpc --cidr-block 10.0.0.0/16 \
	--tag-specifications 'ResourceType=vpc,Tags=[{Key=Name,Value=net1},{Key=team,Value=blue}]') \
	|| fail "create-vpc"
VID=$(jget Vpc.VpcId <<<"$V")
[[ $VID =~ ^vpc-[0-9a-f]{17}$ ]] || fail "vpc id $VID"
[ "$(jget Vpc.State <<<"$V")" = available ] && [ "$(jget Vpc.CidrBlock <<<"$V")" = 10.0.0.0/16 ] \
	|| fail "create-vpc reply: $V"
jget Vpc.Tags <<<"$V" | grep -q '"Value": "net1"' || fail "create-vpc tags: $V"
expect_error InvalidVpc.Range as admin ec2 create-vpc --cidr-block 10.0.0.0/8
expect_error InvalidParameterValue as admin ec2 create-vpc --cidr-block 10.0.0.1/16
pass "CreateVpc: id, state, tags from TagSpecifications; /8 is InvalidVpc.Range, host bits are refused"

S=$(as admin ec2 create-subnet --vpc-id "$VID" --cidr-block 10.0.1.0/24 --availability-zone us-east-1b) \
	|| fail "create-subnet"
SID=$(jget Subnet.SubnetId <<<"$S")
[ "$(jget Subnet.AvailableIpAddressCount <<<"$S")" = 251 ] && [ "$(jget Subnet.VpcId <<<"$S")" = "$VID" ] \
	|| fail "create-subnet reply: $S"
expect_error InvalidSubnet.Conflict as admin ec2 create-subnet --vpc-id "$VID" --cidr-block 10.0.1.128/25
expect_error InvalidSubnet.Range as admin ec2 create-subnet --vpc-id "$VID" --cidr-block 10.1.0.0/24
expect_error InvalidVpcID.NotFound as admin ec2 create-subnet --vpc-id vpc-0123456789abcdef0 --cidr-block 10.0.2.0/24
expect_error InvalidParameterValue as admin ec2 create-subnet --vpc-id "$VID" --cidr-block 10.0.2.0/24 --availability-zone eu-west-1a
pass "CreateSubnet: inside the VPC, no overlap, zones of the region, InvalidVpcID.NotFound"

# Filters: tag:<key>, wildcards, and AND across filters, OR across values.
[ "$(as admin ec2 describe-vpcs --filters 'Name=tag:Name,Values=net*' Name=cidr,Values=10.0.0.0/16 | jget Vpcs.0.VpcId)" = "$VID" ] \
	|| fail "describe-vpcs with tag and cidr filters"
[ "$(as admin ec2 describe-vpcs --filters Name=tag:team,Values=red | jget Vpcs)" = "[]" ] \
	|| fail "a filter that matches nothing"
[ "$(as admin ec2 describe-subnets --filters "Name=vpc-id,Values=$VID" 'Name=availability-zone,Values=us-east-1a,us-east-1b' | jget Subnets.0.SubnetId)" = "$SID" ] \
	|| fail "describe-subnets with filters"
expect_error InvalidParameterValue as admin ec2 describe-vpcs --filters Name=no-such-filter,Values=x
pass "DescribeVpcs/DescribeSubnets: tag:, wildcards, AND across filters, OR across values; unknown filters refused"

G=$(as admin ec2 describe-security-groups --filters "Name=vpc-id,Values=$VID")
[ "$(jget SecurityGroups.0.GroupName <<<"$G")" = default ] || fail "no default group: $G"
[ "$(jget SecurityGroups.0.IpPermissions.0.UserIdGroupPairs.0.GroupId <<<"$G")" = "$(jget SecurityGroups.0.GroupId <<<"$G")" ] \
	|| fail "the default group does not admit its own members: $G"
pass "each VPC comes with a default security group that admits its own members"

expect_error DependencyViolation as admin ec2 delete-vpc --vpc-id "$VID"
as admin ec2 delete-subnet --subnet-id "$SID" >/dev/null || fail "delete-subnet"
expect_error InvalidSubnetID.NotFound as admin ec2 delete-subnet --subnet-id "$SID"
as admin ec2 delete-vpc --vpc-id "$VID" >/dev/null || fail "delete-vpc"
expect_error InvalidVpcID.NotFound as admin ec2 describe-vpcs --vpc-ids "$VID"
[ "$(as admin ec2 describe-security-groups | jget SecurityGroups)" = "[]" ] || fail "the default group outlived its VPC"
pass "DeleteVpc: DependencyViolation while a subnet is in it; then it goes with its default group"
