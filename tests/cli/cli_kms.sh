#!/bin/bash
# tests/cli/cli_kms.sh: ward-kms's command line and HTTP edges (issue 16 §4):
# admin add-* print what they created (ids, ARNs; --json), admin
# list-principals / list-hosts (table and --json, never a secret), an
# unsupported operation answers UnsupportedOperationException naming it, a
# missing X-Amz-Target says so, and a failed listen names EADDRINUSE
# (ward-kms and ward-api).
. "$WARD_SOURCE_ROOT/tests/kms/lib.sh"
set +e
API=$WARD_BUILD_ROOT/src/api/ward-api
kms_setup
kms_start

# ---- what add-* created -------------------------------------------------
"${K[@]}" admin add-principal alice --admin >"$T/alice.out" || fail "add-principal alice"
read -r ak sk <"$T/alice.out"
[ "${#ak}" -ge 16 ] && [ "${#sk}" -ge 30 ] || fail "line 1 is not 'AKID SECRET': $(head -1 "$T/alice.out")"
sed -n 2p "$T/alice.out" | grep -Eq '^arn:aws:iam::111122223333:user/alice$' ||
	fail "line 2 is not alice's ARN: $(sed -n 2p "$T/alice.out")"
pass "add-principal prints AKID SECRET, then the ARN"
alice_AK=$ak alice_SK=$sk

"${K[@]}" --json admin add-principal bob >"$T/bob.json" || fail "add-principal bob --json"
python3 - "$T/bob.json" <<'PY' || fail "add-principal --json: $(cat "$T/bob.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"Name", "Arn", "AccessKeyId", "SecretAccessKey"}, d.keys()
assert d["Name"] == "bob" and d["Arn"].endswith(":user/bob"), d
PY
BOB_SECRET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["SecretAccessKey"])' "$T/bob.json")
pass "add-principal --json: Name, Arn, AccessKeyId, SecretAccessKey"

"${K[@]}" admin add-host host1 --pubkey "$T/host1-hpke.pub" --cert-subject "CN=host1,O=ward" \
	>"$T/host.out" || fail "add-host"
grep -Eq '^arn:aws:iam::111122223333:.*host1' "$T/host.out" || fail "add-host prints no ARN: $(cat "$T/host.out")"
pass "add-host prints the ARN"

# ---- listings -------------------------------------------------------------
"${K[@]}" admin list-principals >"$T/lp.out" || fail "list-principals"
grep -Eq "^alice	$alice_AK	arn:aws:iam::111122223333:user/alice\$" "$T/lp.out" ||
	fail "list-principals lacks alice: $(cat "$T/lp.out")"
grep -q "^bob	" "$T/lp.out" || fail "list-principals lacks bob"
grep -q host1 "$T/lp.out" && fail "list-principals lists a host"
"${K[@]}" admin list-principals --json >"$T/lp.json" || fail "list-principals --json"
python3 - "$T/lp.json" <<'PY' || fail "list-principals --json: $(cat "$T/lp.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert [p["Name"] for p in d] == ["alice", "bob"], d
for p in d:
    assert set(p) == {"Name", "Arn", "AccessKeyId", "HasPolicy"}, p.keys()
assert d[0]["HasPolicy"] is True and d[1]["HasPolicy"] is False, d
PY
cat "$T/lp.out" "$T/lp.json" | grep -qF -e "$alice_SK" -e "$BOB_SECRET" && fail "a listing shows a secret"
pass "list-principals: table and --json, no secret"
"${K[@]}" admin list-hosts --json >"$T/lh.json" || fail "list-hosts --json"
python3 - "$T/lh.json" <<'PY' || fail "list-hosts --json: $(cat "$T/lh.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 1 and d[0]["Name"] == "host1" and d[0]["CertSubject"] == "CN=host1,O=ward", d
assert set(d[0]) == {"Name", "Arn", "CertSubject", "HasPolicy"}, d[0].keys()
PY
"${K[@]}" admin list-hosts | grep -q "^host1	CN=host1,O=ward	arn:" || fail "list-hosts table"
pass "list-hosts: table and --json"

# ---- unsupported and missing operations ----------------------------------
out=$(call alice ListAliases '{}')
rc=$?
[ "$rc" = 1 ] || fail "ListAliases: kms_call exit $rc"
python3 - "$out" <<'PY' || fail "ListAliases answer: $out"
import json, sys
d = json.loads(sys.argv[1])
assert d["__type"] == "UnsupportedOperationException", d
assert d["message"].startswith("ListAliases is not supported"), d
PY
pass "ListAliases: UnsupportedOperationException naming it"
out=$(call alice 'Bad<Op>' '{}')
grep -q '"UnknownOperationException"' <<<"$out" && ! grep -q 'Bad<Op>' <<<"$out" ||
	fail "a malformed target: $out"
pass "a malformed target is not echoed back"
st=$(curl -sS -o "$T/mt.out" -w '%{http_code}' --cacert "$T/ca.pem" -X POST \
	-H 'Content-Type: application/x-amz-json-1.1' --data '{}' "$URL/")
[ "$st" = 400 ] && grep -q 'missing X-Amz-Target' "$T/mt.out" ||
	fail "no X-Amz-Target: $st $(cat "$T/mt.out")"
pass "no X-Amz-Target: 400 saying it is missing"

# ---- a port in use: the daemons say EADDRINUSE -----------------------------
"${K[@]}" --cert "$T/srv.pem" --key "$T/srv.key" --port "$PORT" serve >"$T/second.log" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q 'EADDRINUSE' "$T/second.log" ||
	fail "second ward-kms on port $PORT: exit $rc, $(cat "$T/second.log")"
pass "ward-kms on a port in use names EADDRINUSE"
"$API" --db "$T/api.db" --master-key-file "$T/api.key" --cert "$T/srv.pem" --key "$T/srv.key" \
	--port "$PORT" serve >"$T/api.log" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q 'EADDRINUSE' "$T/api.log" ||
	fail "ward-api on port $PORT: exit $rc, $(cat "$T/api.log")"
pass "ward-api on a port in use names EADDRINUSE"
echo "all checks passed"
