#!/usr/bin/env bash
# Durability: kill -9 ward-kms right after an acknowledged CreateKey and
# CreateGrant; after a restart both are still there and the key still works.
. "$(dirname "$0")/lib.sh"
kms_setup
add_user alice --admin
kms_start
for i in 1 2 3; do
	KID=$(as alice create-key | jget KeyMetadata.KeyId)
	kill -9 "$KMS_PID"; wait "$KMS_PID" 2>/dev/null || true; KMS_PID=
	kms_start
	[ "$(as alice describe-key --key-id "$KID" | jget KeyMetadata.KeyState)" = Enabled ] \
		|| fail "key $KID lost after kill -9"
	GID=$(as alice create-grant --key-id "$KID" --grantee-principal arn:aws:iam::111122223333:user/x \
		--operations Decrypt | jget GrantId)
	kill -9 "$KMS_PID"; wait "$KMS_PID" 2>/dev/null || true; KMS_PID=
	kms_start
	as alice list-grants --key-id "$KID" | grep -q "$GID" || fail "grant $GID lost after kill -9"
	CT=$(as alice encrypt --key-id "$KID" --plaintext aGk= | jget CiphertextBlob)
	[ "$(as alice decrypt --ciphertext-blob "$CT" | jget Plaintext)" = aGk= ] || fail "key unusable"
done
pass "acknowledged CreateKey and CreateGrant survive kill -9 (3 rounds)"
