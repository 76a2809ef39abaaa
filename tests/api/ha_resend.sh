#!/usr/bin/env bash
# A write Txn whose reply is lost after etcd applied it (docs/ha.md,
# "Commit markers"): ward-api reaches etcd only through etcd_dropproxy.py,
# which forwards a CreateUser's and then a CreateAccessKey's commit (no
# ClientToken: IAM has none) and closes the connection as etcd's answer
# begins. ward-api resends the Txn to its other endpoint; the commit
# marker makes that resend fail without applying and says the first send
# applied, so each request is answered as done, once: CreateUser succeeds
# (not EntityAlreadyExists for its own write), and the user has one access
# key, the one answered (not a second one from a re-run). Then every reply
# to a CreateGroup's commit is lost, on both endpoints, until etcd_call's
# deadline: the outcome is unknown, so it is answered 503 (not re-run),
# the dozens of resends applied nothing more (one group), and the next
# commit reads the marker back and finds that the CreateGroup had applied.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ha_lib.sh"
ha_setup
etcd_start 1
# Bootstrap straight to etcd: it writes iam/user/admin.
read -r ak sk < <("$API" --etcd "$ETCD_EPS" --master-key-file "$T/master.key" \
	admin bootstrap admin) || fail "admin bootstrap"
set_creds admin "$ak" "$sk"

/usr/bin/python3 "$(dirname "$0")/etcd_dropproxy.py" "$T/proxy.ports" "${ETCD_EPS#http://}" \
	"$T/drops" iam/user/ iam/userkey/ '!iam/group/lost-g' 2>>"$T/proxy.log" &
HA_BG+=($!)
wait_for "the proxy" '[ -s "$T/proxy.ports" ]'
read -r PA PB < "$T/proxy.ports"
DIRECT=$ETCD_EPS
ETCD_EPS=http://127.0.0.1:$PA,http://127.0.0.1:$PB
replica_start r1
ETCD_EPS=$DIRECT
URL=$URL_r1
pass "r1 on etcd through the reply-losing proxy"

# (Its failure is reported at the end: the access key part needs the user,
# which exists either way.)
BAD=
if OUT=$(as admin iam create-user --user-name resend-u 2>&1) &&
	[ "$(jget User.UserName <<<"$OUT" 2>/dev/null)" = resend-u ]; then
	pass "CreateUser with its reply lost: answered as created (not EntityAlreadyExists)"
else
	BAD="create-user answered: $OUT"
	echo "not ok - $BAD"
fi
grep -q "dropped iam/user/" "$T/drops" || fail "the proxy lost no CreateUser reply"

K=$(as admin iam create-access-key --user-name resend-u | jget AccessKey.AccessKeyId) \
	|| fail "create-access-key failed"
grep -q "dropped iam/userkey/" "$T/drops" || fail "the proxy lost no CreateAccessKey reply"
KEYS=$(ectl get --prefix --keys-only ward/data/iam/userkey/resend-u/ | grep -v '^$' || true)
[ "$KEYS" = "ward/data/iam/userkey/resend-u/$K" ] || fail "answered $K, stored: $KEYS"
pass "CreateAccessKey with its reply lost: one key stored ($K), the one answered"
[ -z "$BAD" ] || fail "$BAD"

[ "$(grep -c 'msg="store commit applied by an earlier send' "$T/r1.log")" = 2 ] \
	|| fail "r1 did not report both resent commits: $(grep 'msg="store' "$T/r1.log")"
pass "both resends found their first send applied (the commit marker)"

# Every reply lost: the outcome stays unknown, 503. Under load the proxy
# can miss one reply (a request it did not see whole in one read); then a
# resend's answer gets through and must say "applied by an earlier send".
# Either way the group is stored exactly once.
OUT=$(as admin iam create-group --group-name lost-g 2>&1) && RC=0 || RC=$?
[ "$(grep -c "dropped iam/group/lost-g" "$T/drops")" -ge 1 ] || fail "no CreateGroup reply was lost"
if [ "$RC" != 0 ]; then
	echo "$OUT" | grep -q ServiceUnavailable || fail "expected ServiceUnavailable, got: $OUT"
	OUT=$(as admin iam create-user --user-name after-u 2>&1) || fail "create-user after: $OUT"
	grep -q 'msg="store commit with an unknown outcome, read back" applied=yes' "$T/r1.log" \
		|| fail "the next commit did not read the marker back: $(grep 'msg="store' "$T/r1.log")"
	HOW="503, read back as applied by the next commit"
else
	[ "$(grep -c 'msg="store commit applied by an earlier send' "$T/r1.log")" = 3 ] \
		|| fail "CreateGroup answered without the marker's read-back: $(grep 'msg="store' "$T/r1.log")"
	HOW="a resend's reply got through: applied by its earlier send"
fi
KEYS=$(ectl get --prefix --keys-only ward/data/iam/group/ | grep -v '^$' || true)
[ "$KEYS" = ward/data/iam/group/lost-g ] || fail "groups stored: $KEYS"
pass "CreateGroup with its replies lost: $HOW; stored once through $(grep -c "dropped iam/group/lost-g" "$T/drops") lost replies"
# r1 goes before the proxy (ha_cleanup ends background jobs first): its
# shutdown's calls to etcd would otherwise wait out etcd_call's deadline.
kill "$PID_r1"
wait "$PID_r1" 2>/dev/null || true
