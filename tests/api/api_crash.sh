#!/usr/bin/env bash
# kill -9 of ward-api while the aws CLI is writing (CreateUser,
# CreateAccessKey from three clients at once) loses nothing that was
# acknowledged, and leaves no half-made object: every access key has its
# user index entry and the reverse (one transaction per request). A fourth
# writer makes EC2 volumes with client tokens: each acknowledged one
# survives, its token still returns it, and every stored volume has its
# token record (both are written in one transaction).
. "$(dirname "$0")/lib.sh"
api_setup
read -r ak sk < <("${A[@]}" admin bootstrap admin) || fail "admin bootstrap"
set_creds admin "$ak" "$sk"
api_start

writer() {	# writer ID: creates users w<ID>-<n> and a key each until the server dies
	local n=0
	while :; do
		n=$((n + 1))
		as admin iam create-user --user-name "w$1-$n" >/dev/null 2>&1 || return 0
		echo "user w$1-$n" >> "$T/acked.$1"
		as admin iam create-access-key --user-name "w$1-$n" >/dev/null 2>&1 || return 0
		echo "key w$1-$n" >> "$T/acked.$1"
	done
}
ec2_writer() {	# volumes with ClientToken crash-<n> until the server dies
	local n=0 v
	while :; do
		n=$((n + 1))
		v=$(as admin ec2 create-volume --availability-zone us-east-1a --size 1 \
			--client-token "crash-$n" 2>/dev/null | jget VolumeId 2>/dev/null) || return 0
		echo "crash-$n $v" >> "$T/ec2acked"
	done
}
: > "$T/ec2acked"
ec2_writer &
for i in 1 2 3; do : > "$T/acked.$i"; writer "$i" & done
# Kill once enough writes were acknowledged, while the writers still run.
for _ in $(seq 1200); do
	[ "$(cat "$T"/acked.* | wc -l)" -ge 8 ] && [ -s "$T/ec2acked" ] && break
	sleep 0.1
done
[ "$(cat "$T"/acked.* | wc -l)" -ge 8 ] || fail "the writers made no progress"
kill -9 "$API_PID"
wait "$API_PID" 2>/dev/null || true
API_PID=
wait
ACKED=$(cat "$T"/acked.* | wc -l)
pass "ward-api killed with SIGKILL after $ACKED acknowledged writes"

api_start
USERS=$(as admin iam list-users)
while read -r what name; do
	grep -q "\"UserName\": \"$name\"" <<<"$USERS" || fail "acknowledged user $name is lost"
	if [ "$what" = key ]; then
		[ "$(as admin iam list-access-keys --user-name "$name" | grep -c AccessKeyId)" -ge 1 ] \
			|| fail "acknowledged access key of $name is lost"
	fi
done < <(cat "$T"/acked.*)
pass "every acknowledged user and access key survived"

python3 - "$T/api.db" <<'PY' || fail "the store is inconsistent"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
keys = {k.split("/")[2] for (k,) in db.execute("SELECT key FROM kv WHERE key LIKE 'iam/accesskey/%'")}
idx = {k.split("/")[3] for (k,) in db.execute("SELECT key FROM kv WHERE key LIKE 'iam/userkey/%'")}
assert keys == idx, (keys ^ idx)
PY
pass "SQLite integrity_check ok; access keys and their index agree (no half-made request)"

VOLS=$(as admin ec2 describe-volumes)
while read -r tok vol; do
	grep -q "\"VolumeId\": \"$vol\"" <<<"$VOLS" || fail "acknowledged volume $vol ($tok) is lost"
done < "$T/ec2acked"
read -r tok vol < <(tail -1 "$T/ec2acked")
[ "$(as admin ec2 create-volume --availability-zone us-east-1a --size 1 --client-token "$tok" | jget VolumeId)" = "$vol" ] \
	|| fail "the retried token $tok no longer returns $vol"
python3 - "$T/api.db" <<'PY' || fail "volumes and their client tokens disagree"
import sqlite3, sys, json
db = sqlite3.connect(sys.argv[1])
vols = {k.split("/")[2] for (k,) in db.execute("SELECT key FROM kv WHERE key LIKE 'ec2/volume/%'")}
toks = {json.loads(v)["VolumeId"] for (v,) in db.execute("SELECT value FROM kv WHERE key LIKE 'ec2/clienttoken/%'")}
assert vols == toks, (vols ^ toks)
PY
pass "every acknowledged EC2 volume survived; a retried ClientToken returns the same volume; each volume has its token record"
