#!/usr/bin/env bash
# net_test.sh: the host API's VPC model (src/controller/vpcstore.c) on a
# locked-down ward-controller-dev with a private swtpm, through the `ward`
# CLI (src/cli/net.c): VPCs, subnets, security groups with authorize and
# revoke, ENIs; every refusal named; the model survives a restart; every
# change is in the audit log; the operator role gets none of it. No guest:
# nothing here needs /dev/kvm.
source "$(dirname "$0")/lib.sh"
need
mkpki
trap ctl_cleanup EXIT

cli() { ward_cli cp "$@" >"$W/out" 2>"$W/err"; RC=$?; OUT=$(cat "$W/out"); ERR=$(cat "$W/err"); }
field() { echo "$OUT" | json_get "$1"; }

start_ctl
cli vpc create --cidr 10.0.0.0/16
check "ward vpc create" [ "$RC" = 0 ]
VPC=$(field '["id"]')
SGD=$(field '["default_security_group"]')
check "ids have AWS's shape ($VPC, $SGD)" bash -c "[[ $VPC =~ ^vpc-[0-9a-f]{8}$ && $SGD =~ ^sg-[0-9a-f]{8}$ ]]"
cli vpc create --cidr 10.0.0.0/8
check "a VPC CIDR the model refuses is named: $ERR" bash -c "[ $RC != 0 ] && grep -q 'vpcs\[1\].cidr' '$W/err'"
cli subnet create --vpc "$VPC" --cidr 10.0.1.0/24
check "ward subnet create" [ "$RC" = 0 ]
SUB=$(field '["id"]')
cli subnet create --vpc "$VPC" --cidr 10.1.0.0/24
check "a subnet outside its VPC is refused: $ERR" bash -c "[ $RC != 0 ] && grep -q 'not inside VPC' '$W/err'"
cli subnet create --vpc vpc-nope --cidr 10.0.2.0/24
check "a subnet of an unknown VPC: $ERR" bash -c "[ $RC != 0 ] && grep -q 'no VPC vpc-nope' '$W/err'"

cli sg create --vpc "$VPC"
check "ward sg create" [ "$RC" = 0 ]
SG=$(field '["id"]')
check "a new group allows all outbound and no inbound" \
	[ "$(field '["egress"][0]["cidr"]')/$(field '["ingress"]')" = "0.0.0.0/0/[]" ]
cli sg authorize "$SG" --ingress --proto tcp --port 22 --cidr 10.0.0.0/16
check "ward sg authorize tcp 22" bash -c "[ $RC = 0 ] && [ '$(field '["ingress"][0]["ports"]')' = '[22, 22]' ]"
cli sg authorize "$SG" --ingress --proto tcp --port 22 --cidr 10.0.0.0/16
check "the same rule twice is refused: $ERR" bash -c "[ $RC != 0 ] && grep -q 'already has that ingress rule' '$W/err'"
cli sg authorize "$SG" --ingress --proto icmp --source-group "$SGD"
check "a rule naming another group" [ "$RC" = 0 ]
cli sg authorize "$SG" --ingress --proto tcp --port 80 --cidr 10.0.0.1/16
check "a CIDR with host bits is refused: $ERR" bash -c "[ $RC != 0 ] && grep -q 'host bits' '$W/err'"
cli sg revoke "$SG" --ingress --proto tcp --port 443 --cidr 10.0.0.0/16
check "revoking a rule the group lacks: $ERR" bash -c "[ $RC != 0 ] && grep -q 'no such ingress rule' '$W/err'"

cli eni create --subnet "$SUB" --security-group "$SG"
check "ward eni create" [ "$RC" = 0 ]
ENI=$(field '["id"]')
check "first free address after the 4 reserved, a local MAC" \
	bash -c "[ '$(field '["ip"]')' = 10.0.1.4 ] && [[ '$(field '["mac"]')' =~ ^02(:[0-9a-f]{2}){5}$ ]]"
cli eni create --subnet "$SUB"
check "an ENI without groups gets the VPC's default group" \
	bash -c "[ $RC = 0 ] && [ '$(field '["security_groups"][0]')' = '$SGD' ] && [ '$(field '["ip"]')' = 10.0.1.5 ]"
ENI2=$(field '["id"]')
cli eni create --subnet "$SUB" --ip 10.0.1.1
check "a reserved address is refused: $ERR" bash -c "[ $RC != 0 ] && grep -q 'reserved' '$W/err'"

cli eni set-groups "$ENI2" --security-group "$SGD" --security-group "$SG"
check "ward eni set-groups: the ENI's groups replaced" \
	bash -c "[ $RC = 0 ] && [ '$(field '["security_groups"][0]')/$(field '["security_groups"][1]')' = '$SGD/$SG' ]"
cli eni set-groups "$ENI2" --security-group sg-00000000
check "an unknown group is refused: $ERR" bash -c "[ $RC != 0 ] && grep -q 'sg-00000000' '$W/err'"
cli eni set-groups "$ENI2" --security-group "$SGD"
check "and back to the default group" [ "$RC" = 0 ]
cli sg delete "$SG"
check "a group an ENI uses is not deleted: $ERR" bash -c "[ $RC != 0 ] && grep -q 'still used by $ENI' '$W/err'"
cli sg delete "$SGD"
check "the default group goes only with its VPC: $ERR" bash -c "[ $RC != 0 ] && grep -q 'default group' '$W/err'"
cli subnet delete "$SUB"
check "a subnet with ENIs is not deleted" [ "$RC" != 0 ]
cli sg revoke "$SG" --ingress --proto tcp --port 22 --cidr 10.0.0.0/16
check "ward sg revoke" bash -c "[ $RC = 0 ] && [ '$(field '["ingress"][0]["proto"]')' = icmp ]"

# NACLs: a new one denies all and applies to no subnet; entries by number.
cli nacl create --vpc "$VPC"
check "ward nacl create: no entries, no subnet" bash -c "[ $RC = 0 ] && [ '$(field '["subnets"]')' = '[]' ]"
ACL=$(field '["id"]')
cli nacl authorize "$ACL" --ingress --rule 100 --action allow --proto tcp --port 22 --cidr 10.0.0.0/16
check "ward nacl authorize: entry 100" bash -c "[ $RC = 0 ] && [ '$(field '["ingress"][0]["rule"]')' = 100 ]"
cli nacl authorize "$ACL" --ingress --rule 100 --action deny --proto all --cidr 0.0.0.0/0
check "an entry number used twice: $ERR" bash -c "[ $RC != 0 ] && grep -q 'already has ingress entry 100' '$W/err'"
cli nacl authorize "$ACL" --egress --rule 90 --action maybe --proto icmp --cidr 10.0.0.0/16
check "an action other than allow/deny: $ERR" bash -c "[ $RC != 0 ] && grep -q 'action' '$W/err'"
cli nacl associate "$ACL" --subnet "$SUB"
check "ward nacl associate" bash -c "[ $RC = 0 ] && [ '$(field '["subnets"][0]')' = '$SUB' ]"
cli nacl delete "$ACL"
check "a NACL a subnet uses is not deleted: $ERR" bash -c "[ $RC != 0 ] && grep -q 'still used by $SUB' '$W/err'"
cli nacl revoke "$ACL" --ingress --rule 100
check "ward nacl revoke by number" bash -c "[ $RC = 0 ] && [ '$(field '["ingress"]')' = '[]' ]"
cli nacl revoke "$ACL" --ingress --rule 100
check "revoking an entry that is not there: $ERR" bash -c "[ $RC != 0 ] && grep -q 'no ingress entry 100' '$W/err'"

req op GET /v1/vpcs
check "the operator role may not read the model" [ "$STATUS" = 403 ]
req op POST /v1/vpcs '{"cidr":"10.9.0.0/16"}'
check "nor change it" [ "$STATUS" = 403 ]
req cp POST /v1/vpcs '{"cidr":"10.9.0.0/16","cidrr":1}'
check "an unknown field is refused" bash -c "[ $STATUS = 400 ] && grep -q cidrr '$W/body'"

# Restart: the model is state.
stop_ctl
start_ctl
cli eni list
check "after a restart the ENIs are there" bash -c "[ $RC = 0 ] && grep -q '$ENI' '$W/out' && grep -q '$ENI2' '$W/out'"
cli sg list
check "and the group's rules" bash -c "[ $RC = 0 ] && [ '$(field '["security_groups"][1]["ingress"][0]["sg"]')' = '$SGD' ]"

cli nacl list
check "the NACL's association survived the restart" bash -c "[ $RC = 0 ] && [ '$(field '["nacls"][0]["subnets"][0]')' = '$SUB' ]"
cli nacl disassociate "$ACL" --subnet "$SUB"
check "ward nacl disassociate" bash -c "[ $RC = 0 ] && [ '$(field '["subnets"]')' = '[]' ]"
cli nacl delete "$ACL"
check "NACL deleted once no subnet uses it" [ "$RC" = 0 ]
cli eni delete "$ENI"
cli eni delete "$ENI2"
cli subnet delete "$SUB"
check "subnet deleted once its ENIs are" [ "$RC" = 0 ]
cli sg delete "$SG"
check "group deleted once unused" [ "$RC" = 0 ]
cli vpc delete "$VPC"
check "VPC deleted (its default group with it)" [ "$RC" = 0 ]
cli vpc list
check "nothing left" [ "$OUT" = '{"vpcs": []}' -o "$(field '["vpcs"]')" = "[]" ]
stop_ctl

# Every change is in the audit log with the object's id (keys sorted).
for r in "\"method\":\"POST\",\"path\":\"/v1/vpcs\".*\"status\":201.*\"vpc\":\"$VPC\"" \
	 "\"method\":\"POST\",\"path\":\"/v1/subnets\".*\"status\":201,\"subnet\":\"$SUB\"" \
	 "\"direction\":\"ingress\".*\"path\":\"/v1/security-groups/$SG/authorize\".*\"security_group\":\"$SG\",\"status\":200" \
	 "\"direction\":\"ingress\".*\"path\":\"/v1/security-groups/$SG/revoke\".*\"security_group\":\"$SG\",\"status\":200" \
	 "\"eni\":\"$ENI\".*\"method\":\"POST\",\"path\":\"/v1/enis\".*\"status\":201" \
	 "\"eni\":\"$ENI\".*\"method\":\"DELETE\".*\"status\":200" \
	 "\"method\":\"POST\",\"nacl\":\"$ACL\",\"path\":\"/v1/network-acls/$ACL/associate\".*\"status\":200,\"subnet\":\"$SUB\"" \
	 "\"method\":\"DELETE\",\"path\":\"/v1/vpcs/$VPC\".*\"status\":200.*\"vpc\":\"$VPC\""; do
	check "audited: $r" grep -Eq "$r" "$S/audit/leaves"
done
finish
