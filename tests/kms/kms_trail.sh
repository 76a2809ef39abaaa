#!/usr/bin/env bash
# ward-kms's activity trail (docs/kms.md "Activity trail"): every call that
# names an operation — allowed, denied, refused at authentication, through a
# grant — is recorded with principal, key, grant, context KEYS, source and
# outcome; context values, plaintexts and secrets never appear; the trail
# verifies with `ward audit verify` across a restart, and a record changed
# afterwards makes verification fail.
. "$(dirname "$0")/lib.sh"
kms_setup
WARD=$WARD_BUILD_ROOT/src/cli/ward
TR=$T/kms.db.trail
ORIGIN=ward-kms/us-east-1/111122223333

add_user alice --admin
add_user bob
kms_start

SECRET_CTX=tenant-value-$RANDOM$RANDOM	# a context value: must never be recorded
PT=$(printf 'plaintext-marker-%s' "$RANDOM$RANDOM" | base64)
KID=$(call alice CreateKey '{}' | jget KeyMetadata.KeyId) || fail "CreateKey"
CT=$(call alice Encrypt "{\"KeyId\":\"$KID\",\"Plaintext\":\"$PT\",\"EncryptionContext\":{\"tenant\":\"$SECRET_CTX\",\"vol\":\"v1\"}}" \
	| jget CiphertextBlob) || fail "Encrypt"
DK=$(call alice GenerateDataKey "{\"KeyId\":\"$KID\",\"KeySpec\":\"AES_256\"}" | jget Plaintext) \
	|| fail "GenerateDataKey"
DEC="{\"CiphertextBlob\":\"$CT\",\"EncryptionContext\":{\"tenant\":\"$SECRET_CTX\",\"vol\":\"v1\"}}"
call alice Decrypt "$DEC" >/dev/null || fail "alice Decrypt"
call bob Decrypt "$DEC" >/dev/null && fail "bob decrypted without a grant"
BOB_ARN=arn:aws:iam::111122223333:user/bob
GID=$(call alice CreateGrant "{\"KeyId\":\"$KID\",\"GranteePrincipal\":\"$BOB_ARN\",\"Operations\":[\"Decrypt\"]}" \
	| jget GrantId) || fail "CreateGrant"
call bob Decrypt "$DEC" >/dev/null || fail "bob Decrypt through the grant"
call alice ListKeys '{}' --bad-sig >/dev/null && fail "a forged signature was accepted"
kms_stop
pass "calls made: CreateKey, Encrypt, GenerateDataKey, Decrypt (alice, bob denied, bob by grant), forged"

[ -s "$TR/leaves" ] && [ -s "$TR/checkpoint" ] && [ -s "$TR/sign.pub.pem" ] \
	|| fail "no trail files in $TR: $(ls -l "$TR" 2>&1)"
OUT=$("$WARD" audit verify "$TR" --pubkey "$TR/sign.pub.pem" --origin "$ORIGIN" 2>&1) \
	|| fail "the trail does not verify: $OUT"
grep -q "^audit log OK: origin $ORIGIN, 8 leaves, checkpoint size 8" <<<"$OUT" \
	|| fail "verify: $OUT"
pass "the trail verifies after a clean stop: $OUT"

python3 - "$TR/leaves" "$KID" "$GID" <<'PY' || fail "trail records"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
kid, gid = sys.argv[2], sys.argv[3]
alice = "arn:aws:iam::111122223333:user/alice"
bob = "arn:aws:iam::111122223333:user/bob"
def want(i, **kv):
    r = recs[i]
    for k, v in kv.items():
        assert r.get(k) == v, (i, k, r.get(k), v, r)
    assert r["type"] == "kms" and r["index"] == i and r["source"].startswith("127.0.0.1:"), r
want(0, op="CreateKey", principal=alice, outcome="allow", status=200, error=None, context_keys=None)
assert recs[0]["key"], recs[0]	# the key it created
want(1, op="Encrypt", principal=alice, key=kid, outcome="allow", context_keys='["tenant","vol"]')
want(2, op="GenerateDataKey", principal=alice, key=kid, outcome="allow", context_keys=None)
want(3, op="Decrypt", principal=alice, key=kid, outcome="allow", grant=None,
     context_keys='["tenant","vol"]')
want(4, op="Decrypt", principal=bob, key=kid, outcome="deny", status=400,
     error="AccessDeniedException", grant=None)
want(5, op="CreateGrant", principal=alice, key=kid, grant=gid, outcome="allow")
want(6, op="Decrypt", principal=bob, key=kid, grant=gid, outcome="allow")
want(7, op="ListKeys", principal=None, key=None, outcome="deny", error="InvalidSignatureException")
print("records as expected:", len(recs))
PY
pass "each call has its record: principal, key, grant, context keys, source, outcome"

for s in "$SECRET_CTX" "$PT" "$DK" "$alice_SK" "$bob_SK" "$(base64 -d <<<"$PT")"; do
	if grep -rqaF -- "$s" "$TR" "$T/server.log"; then
		fail "a secret or context value appears in the trail or the log: ${s:0:12}..."
	fi
done
pass "no context value, plaintext, data key or secret key in the trail or the log"

# A restart continues the same trail under the same key.
kms_start
call alice ListKeys '{}' >/dev/null || fail "ListKeys after restart"
kms_stop
OUT=$("$WARD" audit verify "$TR" --pubkey "$TR/sign.pub.pem" --origin "$ORIGIN" 2>&1) \
	|| fail "the trail does not verify after a restart: $OUT"
grep -q "9 leaves, checkpoint size 9" <<<"$OUT" || fail "after restart: $OUT"
pass "a restart appends to the same trail, signed by the same key"

# Tampering: bob's refusal rewritten as allowed (same length, so only the
# hash chain can tell), and a record deleted.
cp -r "$TR" "$T/tampered"
sed -i '5s/"outcome":"deny"/"outcome":"allw"/' "$T/tampered/leaves"
cmp -s "$TR/leaves" "$T/tampered/leaves" && fail "the tampering did not change the file"
OUT=$("$WARD" audit verify "$T/tampered" --pubkey "$TR/sign.pub.pem" --origin "$ORIGIN" 2>&1) \
	&& fail "a changed record verified: $OUT"
grep -q "FAILED verification" <<<"$OUT" || fail "tampered: $OUT"
pass "a changed record fails verification: $OUT"
cp "$TR/leaves" "$T/tampered/leaves"
sed -i '5d' "$T/tampered/leaves"
OUT=$("$WARD" audit verify "$T/tampered" --pubkey "$TR/sign.pub.pem" --origin "$ORIGIN" 2>&1) \
	&& fail "a log without a record verified: $OUT"
pass "a removed record fails verification: $OUT"

# The key is made only with a new trail: without it, ward-kms refuses to
# start rather than sign a forged-looking history with a new key.
mv "$TR/sign.key" "$T/sign.key.saved"
rm -f "$T/port"
if "${K[@]}" --cert "$T/srv.pem" --key "$T/srv.key" --port 0 --port-file "$T/port" serve \
	>"$T/nokey.log" 2>&1; then
	fail "ward-kms served with its trail key missing"
fi
grep -q "trail signing key .* is missing beside an existing trail" "$T/nokey.log" \
	|| fail "missing key: $(cat "$T/nokey.log")"
pass "a missing trail key beside an existing trail stops ward-kms"

# Fail closed: when the trail cannot be written (a full file system under
# it: a 64 KiB tmpfs in a private mount namespace), a Decrypt is answered
# with an error and no plaintext, not served unrecorded.
[ "$(id -u)" = 0 ] && command -v unshare >/dev/null ||
	{ echo "ok - (fail-closed case skipped: needs root and unshare for a private tmpfs)"; exit 0; }
mv "$T/sign.key.saved" "$TR/sign.key"
mkdir "$T/full"
rm -f "$T/port"
unshare -m bash -c 'mount -t tmpfs -o size=64k tmpfs "$1" && shift && exec "$@"' _ "$T/full" \
	"${K[@]}" --cert "$T/srv.pem" --key "$T/srv.key" --port 0 --port-file "$T/port" \
	--trail-dir "$T/full/trail" serve >>"$T/server.log" 2>&1 &
KMS_PID=$!
for _ in $(seq 600); do [ -s "$T/port" ] && break; kill -0 "$KMS_PID" || break; sleep 0.05; done
[ -s "$T/port" ] || fail "ward-kms on a small tmpfs did not start"
URL=https://127.0.0.1:$(cat "$T/port")
call alice Decrypt "$DEC" >/dev/null || fail "Decrypt before the trail's disk is full"
# Fill the tmpfs, seen through the KMS's own mount namespace.
dd if=/dev/zero of="/proc/$KMS_PID/root$T/full/filler" bs=4k 2>/dev/null || true
# A record goes into the page cache's free tail of the files first: within
# 4 KiB of records (~12 Decrypts), one needs a new page and gets ENOSPC.
for i in $(seq 40); do
	OUT=$(call alice Decrypt "$DEC" 2>&1) || break
	grep -q Plaintext <<<"$OUT" || fail "Decrypt $i: $OUT"
done
[ "$i" -lt 40 ] || fail "40 Decrypts answered with the trail's disk full"
grep -q KMSInternalException <<<"$OUT" || fail "full trail: $OUT"
grep -q Plaintext <<<"$OUT" && fail "a plaintext left with an unrecorded Decrypt: $OUT"
grep -q 'msg="trail: append failed; answering requests with an error" errno=ENOSPC' "$T/server.log" ||
	fail "no ENOSPC line: $(tail -5 "$T/server.log")"
OUT=$(call alice Decrypt "$DEC" 2>&1) && fail "a Decrypt after the failed append was answered: $OUT"
pass "a full trail disk turns Decrypt into KMSInternalException, no plaintext, and the trail stays closed ($OUT)"
kms_stop
