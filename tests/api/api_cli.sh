#!/usr/bin/env bash
# ward-api end to end, driven only by Debian's aws CLI (/usr/bin/aws):
# the bootstrap administrator creates a user with a policy and access keys,
# a role whose trust policy admits that user and not another, the user
# assumes it (with and without a session policy), GetCallerIdentity as
# user and role, AccessDenied without permission, deleted keys stop working.
. "$(dirname "$0")/lib.sh"
api_setup
echo "client: $("$AWS" --version 2>&1)"

read -r ak sk < <("${A[@]}" admin bootstrap admin) || fail "admin bootstrap"
set_creds admin "$ak" "$sk"
expect_out=$("${A[@]}" admin bootstrap admin 2>&1) && fail "second bootstrap of admin succeeded"
grep -q "exists" <<<"$expect_out" || fail "second bootstrap: $expect_out"
grep -q "$sk" "$T/api.db"* && fail "a secret access key is stored in the clear"
api_start
pass "admin bootstrap prints the only copy of its key; the store holds it sealed"

[ "$(as admin sts get-caller-identity | jget Arn)" = "arn:aws:iam::111122223333:user/admin" ] \
	|| fail "GetCallerIdentity as admin"
pass "GetCallerIdentity as the bootstrap administrator"

# --- users, policies, keys ---
as admin iam create-user --user-name alice >/dev/null || fail "create-user alice"
as admin iam create-user --user-name bob --path /eng/ | jget User.Arn | grep -qx "arn:aws:iam::111122223333:user/eng/bob" \
	|| fail "create-user with a path"
expect_error EntityAlreadyExists as admin iam create-user --user-name alice
expect_error ValidationError as admin iam create-user --user-name 'no/slash'
[ "$(as admin iam get-user --user-name alice | jget User.UserName)" = alice ] || fail "get-user"
as admin iam list-users | grep -q '"UserName": "bob"' || fail "list-users lacks bob"
pass "CreateUser (paths, duplicates, name validation), GetUser, ListUsers"

cat > "$T/alice.json" <<'J'
{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["iam:GetUser","iam:*AccessKey*"],"Resource":"arn:aws:iam::*:user/${aws:username}"},
 {"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"},
 {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/ops"},
 {"Effect":"Deny","Action":"iam:ListUsers","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}
]}
J
as admin iam put-user-policy --user-name alice --policy-name self --policy-document "file://$T/alice.json" \
	|| fail "put-user-policy"
as admin iam get-user-policy --user-name alice --policy-name self | jget PolicyDocument.Statement.0.Resource \
	| grep -qx 'arn:aws:iam::\*:user/${aws:username}' || fail "get-user-policy round trip"
expect_error MalformedPolicyDocument as admin iam put-user-policy --user-name alice --policy-name bad \
	--policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"StringEqual":{"a":"b"}}}]}'
expect_error NoSuchEntity as admin iam get-user-policy --user-name alice --policy-name nope
pass "PutUserPolicy, GetUserPolicy (URL-encoded document decoded by the CLI), MalformedPolicyDocument"

K=$(as admin iam create-access-key --user-name alice)
set_creds alice "$(jget AccessKey.AccessKeyId <<<"$K")" "$(jget AccessKey.SecretAccessKey <<<"$K")"
[ "$(as alice sts get-caller-identity | jget Arn)" = "arn:aws:iam::111122223333:user/alice" ] \
	|| fail "GetCallerIdentity as alice"
[ "$(as alice iam get-user | jget User.UserName)" = alice ] || fail "get-user (self, no name)"
as alice iam list-access-keys | grep -q "$alice_AK" || fail "list-access-keys (self)"
pass "CreateAccessKey; the new key signs; GetUser and ListAccessKeys on the caller itself"

K=$(as admin iam create-access-key --user-name bob)
set_creds bob "$(jget AccessKey.AccessKeyId <<<"$K")" "$(jget AccessKey.SecretAccessKey <<<"$K")"
expect_error AccessDenied as bob iam list-users
expect_error AccessDenied as bob iam create-user --user-name mallory
expect_error AccessDenied as alice iam get-user --user-name bob
expect_error AccessDenied as alice iam create-access-key --user-name bob
as alice iam list-users >/dev/null || fail "alice may list users"
pass "no permission -> AccessDenied (implicit deny; \${aws:username} confines alice to herself)"

set_creds forged "$alice_AK" "${alice_SK%?}x"
expect_error SignatureDoesNotMatch as forged sts get-caller-identity
set_creds nobody AKIAAAAAAAAAAAAAAAAA "$alice_SK"
expect_error InvalidClientTokenId as nobody sts get-caller-identity
pass "wrong secret -> SignatureDoesNotMatch, unknown key -> InvalidClientTokenId"

# --- groups ---
as admin iam create-group --group-name readers | jget Group.GroupName | grep -qx readers || fail "create-group"
as admin iam put-group-policy --group-name readers --policy-name list \
	--policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}' \
	|| fail "put-group-policy"
expect_error AccessDenied as bob iam list-users
as admin iam add-user-to-group --group-name readers --user-name bob || fail "add-user-to-group"
as bob iam list-users >/dev/null || fail "group policy does not apply to bob"
as admin iam remove-user-from-group --group-name readers --user-name bob || fail "remove-user-from-group"
expect_error AccessDenied as bob iam list-users
pass "CreateGroup, PutGroupPolicy, Add/RemoveUserFromGroup: a group's policy applies to its members only"

# --- roles and STS ---
cat > "$T/trust.json" <<'J'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}]}
J
as admin iam create-role --role-name ops --assume-role-policy-document "file://$T/trust.json" --max-session-duration 7200 \
	| jget Role.AssumeRolePolicyDocument.Statement.0.Principal.AWS | grep -qx "arn:aws:iam::111122223333:user/alice" \
	|| fail "create-role"
expect_error MalformedPolicyDocument as admin iam create-role --role-name bad \
	--assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}'
[ "$(as admin iam get-role --role-name ops | jget Role.MaxSessionDuration)" = 7200 ] || fail "get-role"
as admin iam put-role-policy --role-name ops --policy-name ops \
	--policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:GetRole","iam:ListUsers"],"Resource":"*"}]}' \
	|| fail "put-role-policy"
pass "CreateRole (trust policy validated as one), GetRole, PutRolePolicy"

ROLE=arn:aws:iam::111122223333:role/ops
S=$(as alice sts assume-role --role-arn "$ROLE" --role-session-name s1 --duration-seconds 900)
set_creds ops "$(jget Credentials.AccessKeyId <<<"$S")" "$(jget Credentials.SecretAccessKey <<<"$S")" \
	"$(jget Credentials.SessionToken <<<"$S")"
[[ $ops_AK == ASIA* ]] || fail "session key id $ops_AK"
[ "$(jget AssumedRoleUser.Arn <<<"$S")" = "arn:aws:sts::111122223333:assumed-role/ops/s1" ] || fail "AssumedRoleUser"
[ "$(as ops sts get-caller-identity | jget Arn)" = "arn:aws:sts::111122223333:assumed-role/ops/s1" ] \
	|| fail "GetCallerIdentity as the role"
as ops iam get-user --user-name bob >/dev/null || fail "role policy does not allow GetUser"
expect_error AccessDenied as ops iam create-user --user-name mallory
pass "AssumeRole by a trusted user; the session acts with the role's policies (GetCallerIdentity, AccessDenied)"

expect_error AccessDenied as bob sts assume-role --role-arn "$ROLE" --role-session-name s2
expect_error AccessDenied as alice sts assume-role --role-arn arn:aws:iam::111122223333:role/none --role-session-name s2
expect_error ValidationError as alice sts assume-role --role-arn "$ROLE" --role-session-name s2 --duration-seconds 7201
pass "trust policy refuses bob; unknown role; DurationSeconds bounded by the role's MaxSessionDuration"

S=$(as alice sts assume-role --role-arn "$ROLE" --role-session-name narrow \
	--policy '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"}]}')
set_creds narrow "$(jget Credentials.AccessKeyId <<<"$S")" "$(jget Credentials.SecretAccessKey <<<"$S")" \
	"$(jget Credentials.SessionToken <<<"$S")"
as narrow iam get-role --role-name ops >/dev/null || fail "session policy: GetRole"
expect_error AccessDenied as narrow iam get-user --user-name bob
pass "a session Policy intersects the role's permissions"

TOK=$ops_TK
set_creds tampered "$ops_AK" "$ops_SK" "${TOK:0:20}$( [ "${TOK:20:1}" = A ] && echo B || echo A )${TOK:21}"
expect_error InvalidClientTokenId as tampered sts get-caller-identity
set_creds swapped "$narrow_AK" "$narrow_SK" "$ops_TK"
expect_error InvalidClientTokenId as swapped sts get-caller-identity
set_creds notoken "$ops_AK" "$ops_SK"
expect_error InvalidClientTokenId as notoken sts get-caller-identity
pass "a modified, swapped or missing session token is refused"

# Account-wide trust: the caller's own policy must also allow AssumeRole.
as admin iam create-role --role-name acct --assume-role-policy-document \
	'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}' >/dev/null \
	|| fail "create-role acct"
expect_error AccessDenied as bob sts assume-role --role-arn arn:aws:iam::111122223333:role/acct --role-session-name xx
as admin sts assume-role --role-arn arn:aws:iam::111122223333:role/acct --role-session-name xx >/dev/null \
	|| fail "account trust + identity allow"
pass "a trust policy naming the account delegates to the caller's identity policy"

expect_error DeleteConflict as admin iam delete-role --role-name ops
as admin iam delete-role-policy --role-name ops --policy-name ops || fail "delete-role-policy"
as admin iam delete-role --role-name ops || fail "delete-role"
expect_error InvalidClientTokenId as ops sts get-caller-identity
pass "DeleteRole (DeleteConflict while it has policies); its sessions stop working"

# --- key deletion ---
as admin iam delete-access-key --user-name alice --access-key-id "$alice_AK" || fail "delete-access-key"
expect_error InvalidClientTokenId as alice sts get-caller-identity
pass "a deleted access key stops working at once"

expect_error DeleteConflict as admin iam delete-user --user-name alice
as admin iam delete-user-policy --user-name alice --policy-name self || fail "delete-user-policy"
as admin iam delete-user --user-name alice || fail "delete-user"
expect_error NoSuchEntity as admin iam get-user --user-name alice
pass "DeleteUser (DeleteConflict while it has policies)"

grep -q "$admin_SK\|$bob_SK" "$T/server.log" && fail "a secret reached the log"
pass "no secret in the server log"
