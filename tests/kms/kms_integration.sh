#!/usr/bin/env bash
# ward-kms end to end with a real client: Debian's aws CLI (/usr/bin/aws)
# pointed at ward-kms with --endpoint-url runs every implemented call; the
# test client kms_call covers Recipient/HPKE, mTLS hosts, forward access
# sessions and forged/stale signatures.
. "$(dirname "$0")/lib.sh"
kms_setup
echo "client: $("$AWS" --version 2>&1)"

add_user alice --admin
add_user bob
cat > "$T/ctl.json" <<'J'
{"Statement":[{"Effect":"Allow","Action":["kms:CreateForwardAccessSession","kms:CreateGrant","kms:DescribeKey"],"Resource":"*"}]}
J
add_user ctl --policy "$T/ctl.json"
SUBJ=$(openssl x509 -in "$T/host1.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
"${K[@]}" admin add-host host1 --pubkey "$T/host1-hpke.pub" --cert-subject "$SUBJ" \
	|| fail "add-host"
kms_start

# --- keys ---
KID=$(as alice create-key --description "volume keys" | jget KeyMetadata.KeyId)
[ "$(as alice describe-key --key-id "$KID" | jget KeyMetadata.KeyState)" = Enabled ] \
	|| fail "describe-key state"
as alice list-keys | grep -q "$KID" || fail "list-keys lacks the key"
ARN=arn:aws:kms:us-east-1:111122223333:key/$KID
[ "$(as alice describe-key --key-id "$ARN" | jget KeyMetadata.Arn)" = "$ARN" ] || fail "ARN lookup"
pass "CreateKey, DescribeKey (id and ARN), ListKeys"

# --- Encrypt / Decrypt and the encryption context ---
PT=$(printf 'attack at dawn' | base64)
CT=$(as alice encrypt --key-id "$KID" --plaintext "$PT" --encryption-context vol=v1,tenant=t | jget CiphertextBlob)
OUT=$(as alice decrypt --ciphertext-blob "$CT" --encryption-context tenant=t,vol=v1 | jget Plaintext)
[ "$OUT" = "$PT" ] || fail "Encrypt/Decrypt round trip"
pass "Encrypt -> Decrypt round trip (context order irrelevant)"
expect_error InvalidCiphertextException as alice decrypt --ciphertext-blob "$CT" --encryption-context vol=v2,tenant=t
expect_error InvalidCiphertextException as alice decrypt --ciphertext-blob "$CT"
pass "a different or missing encryption context -> InvalidCiphertextException"
BAD=$(python3 -c 'import base64,sys; b=bytearray(base64.b64decode(sys.argv[1])); b[-1]^=1; print(base64.b64encode(b).decode())' "$CT")
expect_error InvalidCiphertextException as alice decrypt --ciphertext-blob "$BAD" --encryption-context vol=v1,tenant=t
pass "a modified blob -> InvalidCiphertextException"

# --- data keys ---
G=$(as alice generate-data-key --key-id "$KID" --key-spec AES_256 --encryption-context vol=v1)
DK=$(jget Plaintext <<<"$G")
[ "$(base64 -d <<<"$DK" | wc -c)" = 32 ] || fail "GenerateDataKey length"
[ "$(as alice decrypt --ciphertext-blob "$(jget CiphertextBlob <<<"$G")" --encryption-context vol=v1 | jget Plaintext)" = "$DK" ] \
	|| fail "GenerateDataKey blob does not decrypt to its plaintext"
G2=$(as alice generate-data-key-without-plaintext --key-id "$KID" --number-of-bytes 64)
python3 -c 'import json,sys; d=json.load(sys.stdin); assert "Plaintext" not in d and d["CiphertextBlob"]' <<<"$G2" \
	|| fail "GenerateDataKeyWithoutPlaintext returned plaintext"
[ "$(as alice decrypt --ciphertext-blob "$(jget CiphertextBlob <<<"$G2")" | jget Plaintext | base64 -d | wc -c)" = 64 ] \
	|| fail "GenerateDataKeyWithoutPlaintext blob"
pass "GenerateDataKey, GenerateDataKeyWithoutPlaintext"

# --- authorisation, grants ---
expect_error AccessDeniedException as bob decrypt --ciphertext-blob "$CT" --encryption-context vol=v1,tenant=t
expect_error AccessDeniedException as bob create-key
pass "principal without permission -> AccessDeniedException"
BOB_ARN=arn:aws:iam::111122223333:user/bob
ALICE_ARN=arn:aws:iam::111122223333:user/alice
GR=$(as alice create-grant --key-id "$KID" --grantee-principal "$BOB_ARN" --operations Decrypt \
	--retiring-principal "$ALICE_ARN" --constraints EncryptionContextSubset={vol=v1} --name g1)
GT=$(jget GrantToken <<<"$GR"); GID=$(jget GrantId <<<"$GR")
[ "$(as bob decrypt --ciphertext-blob "$CT" --encryption-context vol=v1,tenant=t --grant-tokens "$GT" | jget Plaintext)" = "$PT" ] \
	|| fail "grant does not let bob decrypt"
CT2=$(as alice encrypt --key-id "$KID" --plaintext "$PT" --encryption-context vol=v2 | jget CiphertextBlob)
expect_error AccessDeniedException as bob decrypt --ciphertext-blob "$CT2" --encryption-context vol=v2
expect_error AccessDeniedException as bob encrypt --key-id "$KID" --plaintext "$PT" --encryption-context vol=v1
as alice list-grants --key-id "$KID" | grep -q "$GID" || fail "list-grants lacks the grant"
pass "CreateGrant (EncryptionContextSubset) lets bob decrypt, only within the constraint"
expect_error AccessDeniedException as bob retire-grant --grant-token "$GT"
as alice retire-grant --grant-token "$GT" || fail "retire-grant"
expect_error AccessDeniedException as bob decrypt --ciphertext-blob "$CT" --encryption-context vol=v1,tenant=t
as alice list-grants --key-id "$KID" | grep -q "$GID" && fail "retired grant still listed"
pass "RetireGrant by the retiring principal removes access"
GID2=$(as alice create-grant --key-id "$KID" --grantee-principal "$BOB_ARN" --operations Decrypt Encrypt \
	--constraints EncryptionContextEquals={vol=v2} | jget GrantId)
[ "$(as bob decrypt --ciphertext-blob "$CT2" --encryption-context vol=v2 | jget Plaintext)" = "$PT" ] \
	|| fail "EncryptionContextEquals grant"
expect_error AccessDeniedException as bob encrypt --key-id "$KID" --plaintext "$PT" --encryption-context vol=v2,x=y
as alice revoke-grant --key-id "$KID" --grant-id "$GID2" || fail "revoke-grant"
expect_error AccessDeniedException as bob decrypt --ciphertext-blob "$CT2" --encryption-context vol=v2
expect_error NotFoundException as alice revoke-grant --key-id "$KID" --grant-id "$GID2"
pass "EncryptionContextEquals grant; RevokeGrant removes access"

# explicit deny wins over alice's admin identity policy
KID_D=$(as alice create-key --policy "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"$ALICE_ARN\"},\"Action\":\"kms:*\",\"Resource\":\"*\"},{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}]}" | jget KeyMetadata.KeyId)
CTD=$(as alice encrypt --key-id "$KID_D" --plaintext "$PT" | jget CiphertextBlob)
expect_error AccessDeniedException as alice decrypt --ciphertext-blob "$CTD"
expect_error MalformedPolicyDocumentException as alice create-key --policy '{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{}}]}'
pass "explicit Deny in a key policy wins; unsupported policy elements refused"

# --- rotation ---
as alice enable-key-rotation --key-id "$KID" || fail "enable-key-rotation"
[ "$(as alice get-key-rotation-status --key-id "$KID" | jget KeyRotationEnabled)" = True ] || fail "rotation status"
call alice RotateKeyOnDemand "{\"KeyId\":\"$KID\"}" >/dev/null || fail "RotateKeyOnDemand"
CT3=$(as alice encrypt --key-id "$KID" --plaintext "$PT" | jget CiphertextBlob)
[ "$(base64 -d <<<"$CT3" | od -An -tu1 -j40 -N1 | tr -d ' ')" = 2 ] || fail "new blobs should use key version 2"
[ "$(as alice decrypt --ciphertext-blob "$CT" --encryption-context vol=v1,tenant=t | jget Plaintext)" = "$PT" ] \
	|| fail "old ciphertext undecryptable after rotation"
[ "$(as alice decrypt --ciphertext-blob "$CT3" | jget Plaintext)" = "$PT" ] || fail "new ciphertext"
pass "EnableKeyRotation; after rotation old and new ciphertexts decrypt"

# --- Recipient (HPKE to a registered host key), mTLS host, forward access session ---
HOST_ARN=arn:aws:iam::111122223333:role/ward-host/host1
GV=$(as alice generate-data-key --key-id "$KID" --key-spec AES_256 --encryption-context volume=vol-9)
VDK=$(jget Plaintext <<<"$GV" | base64 -d | od -An -tx1 | tr -d ' \n')
VBLOB=$(jget CiphertextBlob <<<"$GV")
# the control plane (ctl: identity policy allows CreateGrant and
# CreateForwardAccessSession) grants host1 Decrypt for this volume only
HG=$(call ctl CreateGrant "{\"KeyId\":\"$KID\",\"GranteePrincipal\":\"$HOST_ARN\",\"Operations\":[\"Decrypt\"],\"Constraints\":{\"EncryptionContextSubset\":{\"volume\":\"vol-9\"}},\"RetiringPrincipal\":\"$HOST_ARN\"}") \
	|| fail "control plane CreateGrant: $HG"
HGT=$(jget GrantToken <<<"$HG")
FAS=$(call ctl CreateForwardAccessSession "{\"KeyId\":\"$KID\",\"CallerPrincipal\":\"$ALICE_ARN\"}" | jget SessionToken) \
	|| fail "CreateForwardAccessSession"
host() { "$KMS_CALL" --url "$URL" --ca "$T/ca.pem" --cert "$T/host1.pem" --key "$T/host1.key" "$@"; }
REQ="{\"CiphertextBlob\":\"$VBLOB\",\"EncryptionContext\":{\"volume\":\"vol-9\"},\"GrantTokens\":[\"$HGT\"],\"Recipient\":{\"KeyEncryptionAlgorithm\":\"HPKE_P256_SHA256_AES256GCM\",\"HostId\":\"host1\"},\"ForwardAccessSession\":\"$FAS\"}"
GOT=$(host --open CiphertextForRecipient "$T/host1-hpke.key" Decrypt "$REQ") || fail "host Decrypt with Recipient"
[ "$GOT" = "$VDK" ] || fail "HPKE-opened key differs from the data key"
pass "host (mTLS) Decrypt with grant + forward access session; key HPKE-sealed to host1"
OUT=$(host Decrypt "$REQ") && fail "forward access session replay accepted"
grep -q AccessDeniedException <<<"$OUT" || fail "replay: $OUT"
pass "forward access session is single-use"
FASB=$(call ctl CreateForwardAccessSession "{\"KeyId\":\"$KID\",\"CallerPrincipal\":\"$BOB_ARN\"}" | jget SessionToken)
OUT=$(host Decrypt "${REQ/$FAS/$FASB}") && fail "session for bob (no permission) accepted"
grep -q AccessDeniedException <<<"$OUT" || fail "bob session: $OUT"
OUT=$(host Decrypt "{\"CiphertextBlob\":\"$VBLOB\",\"EncryptionContext\":{\"volume\":\"vol-9\"}}" ) && fail "host got plaintext without Recipient"
pass "a session for a caller without permission is refused"
OUT=$(host Decrypt "{\"CiphertextBlob\":\"$VBLOB\",\"EncryptionContext\":{\"volume\":\"vol-9\"},\"Recipient\":{\"KeyEncryptionAlgorithm\":\"HPKE_P256_SHA256_AES256GCM\",\"HostId\":\"host2\"}}") && fail "host asked for another host"
grep -q AccessDeniedException <<<"$OUT" || fail "other host: $OUT"
pass "a host may only have keys sealed to itself"

# --- authentication faults ---
bad_SK=WRONGWRONGWRONGWRONGWRONGWRONGWRONGWRONG; bad_AK=$alice_AK
expect_error InvalidSignatureException as bad list-keys
nobody_AK=AKIAUNKNOWNUNKNOWN00; nobody_SK=$alice_SK
expect_error UnrecognizedClientException as nobody list-keys
OUT=$(call alice ListKeys '{}' --bad-sig) && fail "forged signature accepted"
grep -q InvalidSignatureException <<<"$OUT" || fail "forged: $OUT"
OUT=$(call alice ListKeys '{}' --date "$(date -u -d '-6 min' +%Y%m%dT%H%M%SZ)") && fail "stale request accepted"
grep -q "Signature expired" <<<"$OUT" || fail "stale: $OUT"
call alice ListKeys '{}' --date "$(date -u -d '-4 min' +%Y%m%dT%H%M%SZ)" >/dev/null || fail "4-minute skew refused"
OUT=$(call alice ListKeys '{}' --region eu-west-1) && fail "wrong region accepted"
OUT=$("$KMS_CALL" --url "$URL" --ca "$T/ca.pem" ListKeys '{}') && fail "unsigned request accepted"
grep -q MissingAuthenticationTokenException <<<"$OUT" || fail "unsigned: $OUT"
pass "bad signature, unknown key id, stale timestamp, wrong region, unsigned: all refused"

# --- strict parsing ---
OUT=$(call alice Encrypt "{\"KeyId\":\"$KID\",\"Plaintext\":\"$PT\",\"Bogus\":1}") && fail "unknown member accepted"
grep -q ValidationException <<<"$OUT" || fail "unknown member: $OUT"
OUT=$(call alice GenerateDataKey "{\"KeyId\":\"$KID\",\"NumberOfBytes\":\"32\"}") && fail "wrong type accepted"
grep -q ValidationException <<<"$OUT" || fail "wrong type: $OUT"
OUT=$(call alice Encrypt '{"KeyId":') && fail "bad JSON accepted"
grep -q SerializationException <<<"$OUT" || fail "bad JSON: $OUT"
expect_error NotFoundException as alice describe-key --key-id 00000000-0000-4000-8000-000000000000
pass "unknown members, wrong types, malformed JSON, unknown keys refused"

# --- deletion ---
KID2=$(as alice create-key | jget KeyMetadata.KeyId)
CTK2=$(as alice encrypt --key-id "$KID2" --plaintext "$PT" | jget CiphertextBlob)
[ "$(as alice schedule-key-deletion --key-id "$KID2" --pending-window-in-days 7 | jget KeyState)" = PendingDeletion ] \
	|| fail "schedule-key-deletion"
expect_error KMSInvalidStateException as alice encrypt --key-id "$KID2" --plaintext "$PT"
expect_error KMSInvalidStateException as alice decrypt --ciphertext-blob "$CTK2"
expect_error KMSInvalidStateException as alice generate-data-key --key-id "$KID2" --key-spec AES_256
expect_error ValidationException as alice schedule-key-deletion --key-id "$KID" --pending-window-in-days 3
pass "ScheduleKeyDeletion: a key pending deletion refuses use; window must be 7-30 days"
as alice cancel-key-deletion --key-id "$KID2" >/dev/null || fail "cancel-key-deletion"
[ "$(as alice describe-key --key-id "$KID2" | jget KeyMetadata.KeyState)" = Disabled ] || fail "cancelled key state"
expect_error DisabledException as alice decrypt --ciphertext-blob "$CTK2"
call alice EnableKey "{\"KeyId\":\"$KID2\"}" >/dev/null || fail "EnableKey"
[ "$(as alice decrypt --ciphertext-blob "$CTK2" | jget Plaintext)" = "$PT" ] || fail "decrypt after cancel"
pass "CancelKeyDeletion leaves the key Disabled; EnableKey restores use"
as alice schedule-key-deletion --key-id "$KID2" --pending-window-in-days 7 >/dev/null
kms_stop
NOW=$(date +%s)
"${K[@]}" admin sweep --now $((NOW + 6 * 86400)) | grep -q keys_changed=0 || fail "swept before the window ended"
"${K[@]}" admin sweep --now $((NOW + 8 * 86400)) | grep -q keys_changed=1 || fail "sweep after the window"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label ward-kms --login --pin 1234 --list-objects \
	--type secrkey 2>/dev/null > "$T/objects"
grep -q "ward-kms/$KID2/" "$T/objects" && fail "deleted key's HSM object still exists"
grep -q "ward-kms/$KID/v2" "$T/objects" || fail "HSM listing does not show live keys"
kms_start
expect_error NotFoundException as alice describe-key --key-id "$KID2"
expect_error NotFoundException as alice decrypt --ciphertext-blob "$CTK2"
[ "$(as alice decrypt --ciphertext-blob "$CT3" | jget Plaintext)" = "$PT" ] || fail "other keys survive"
pass "after the waiting period the key and its HSM material are gone for good"
echo "all kms integration checks passed"
