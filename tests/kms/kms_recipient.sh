#!/usr/bin/env bash
# tests/kms/kms_recipient.sh: attestation-bound key release (issue 13,
# docs/enclaves.md). ward-kms with --attestation-root releases a key only
# to a document of the image its key policy names (PCR0 from `ward enclave
# build`), as CMS EnvelopedData that `openssl cms -decrypt` opens, and
# refuses a rebuilt image one byte apart, a debug-mode document, a replayed
# document, another root's document, an altered one, one without a
# public_key, and any document when no root is configured.
. "$(dirname "$0")/lib.sh"
WARD=$WARD_BUILD_ROOT/src/cli/ward
MINT=$WARD_BUILD_ROOT/tests/kms/attest_mint
kms_setup

# --- the attestation chains (P-384, as the NSM signs): ours and another ---
attest_chain "$T/att"
attest_chain "$T/other"
# The enclave's key pair, as aws-nitro-enclaves-sdk-c makes one (RSA 2048,
# the public half as a DER SubjectPublicKeyInfo in the document).
cp "$T/att/enc.key" "$T/att/enc.spki" "$T/"

# --- two images one byte apart: their real PCR0s ---
head -c 20000 /dev/urandom > "$T/kernel"
head -c 5000 /dev/urandom > "$T/rd"
cp "$T/rd" "$T/rd2"
printf '\x5a' | dd of="$T/rd2" bs=1 seek=4999 conv=notrunc 2>/dev/null
cmp -s "$T/rd" "$T/rd2" && printf '\xa5' | dd of="$T/rd2" bs=1 seek=4999 conv=notrunc 2>/dev/null
# jstr KEY JSON: a string member of one-line JSON (no python per call: a
# process start costs seconds on a loaded machine)
jstr() { [[ $2 =~ \"$1\":\ ?\"([^\"]*)\" ]] && printf '%s' "${BASH_REMATCH[1]}"; }
pcr() { jstr PCR"$2" "$(tr -d '\n' < "$1")"; }
"$WARD" enclave build --kernel "$T/kernel" --cmdline "console=none" --ramdisk "$T/rd" \
	--output-file "$T/good.eif" > "$T/good.json" || fail "enclave build"
"$WARD" enclave build --kernel "$T/kernel" --cmdline "console=none" --ramdisk "$T/rd2" \
	--output-file "$T/bad.eif" > "$T/bad.json" || fail "enclave build (changed)"
GOOD0=$(pcr "$T/good.json" 0) GOOD1=$(pcr "$T/good.json" 1) GOOD2=$(pcr "$T/good.json" 2)
BAD0=$(pcr "$T/bad.json" 0) BAD1=$(pcr "$T/bad.json" 1)
[ ${#GOOD0} = 96 ] && [ ${#BAD0} = 96 ] || fail "no PCR0 in: $(cat "$T/good.json")"
[ "$GOOD0" != "$BAD0" ] || fail "a one-byte change left PCR0 alone"

# mint OUT CHAIN [mint options]: a document of image `good` unless told
mint() {
	local out=$1 c=$2; shift 2
	"$MINT" "$c/leaf.key" "$c/leaf.pem" "$c/root.pem" "$c/inter.pem" "$out" "$@" \
		|| fail "attest_mint $*"
}
good_doc() { mint "$1" "$T/att" --pcr 0="$GOOD0" --pcr 1="$GOOD1" --pcr 2="$GOOD2" \
	--pubkey "$T/enc.spki" "${@:2}"; }
b64() { base64 -w0 "$1"; }
rcp() { # DOC: the Recipient member
	printf '"Recipient":{"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256","AttestationDocument":"%s"}' "$(b64 "$1")"
}
# open_cms JSON: the CiphertextForRecipient opened by openssl, base64
open_cms() {
	[[ $1 != *'"Plaintext"'* ]] || fail "a Plaintext next to CiphertextForRecipient: $1"
	jstr CiphertextForRecipient "$1" | base64 -d > "$T/cms.der" && [ -s "$T/cms.der" ] \
		|| fail "no CiphertextForRecipient in: $1"
	openssl cms -decrypt -inform DER -in "$T/cms.der" -inkey "$T/enc.key" -binary \
		-out "$T/cms.out" || fail "openssl cms -decrypt refused the answer"
	base64 -w0 "$T/cms.out"
}

# --- principals and a key whose policy names the good image's PCR0 ---
K+=(--attestation-root "$T/att/root.pem")
add_user alice --admin
add_user encl
add_user gr
UP=$(tr a-f A-F <<<"$GOOD0")	# StringEqualsIgnoreCase: AWS prints lower case
cat > "$T/encl-id.json" <<J
{"Statement":[{"Effect":"Allow","Action":"kms:GenerateRandom","Resource":"*",
 "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"$UP"}}}]}
J
"${K[@]}" admin set-policy encl "$T/encl-id.json" >/dev/null || fail "set-policy encl"
kms_start
ACCT=111122223333
cat > "$T/key-policy.json" <<J
{"Statement":[
 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::$ACCT:user/alice"},"Action":"kms:*","Resource":"*"},
 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::$ACCT:user/encl"},"Action":"kms:Decrypt","Resource":"*",
  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"$UP"}}},
 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::$ACCT:user/encl"},"Action":"kms:GenerateDataKey","Resource":"*",
  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"$GOOD0"}}},
 {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::$ACCT:user/gr"},"Action":"kms:Decrypt","Resource":"*",
  "Condition":{"StringNotEqualsIgnoreCase":{"kms:RecipientAttestation:PCR0":"$GOOD0"}}}
]}
J
POLICY=$(tr -d '\n' < "$T/key-policy.json" | sed 's/"/\\"/g')
R=$(call alice CreateKey "{\"Policy\":\"$POLICY\"}") || fail "CreateKey with a RecipientAttestation policy: $R"
KID=$(jstr KeyId "$R")
G=$(call alice GenerateDataKey "{\"KeyId\":\"$KID\",\"KeySpec\":\"AES_256\"}") || fail "GenerateDataKey"
CT=$(jstr CiphertextBlob "$G") DK=$(jstr Plaintext "$G")

# --- released to the good image, as CMS that openssl opens ---
good_doc "$T/d1"
R=$(call encl Decrypt "{\"CiphertextBlob\":\"$CT\",$(rcp "$T/d1")}") || fail "Decrypt with the good image's document: $R"
[ "$(open_cms "$R")" = "$DK" ] || fail "the CMS answer is not the key alice decrypts"
expect_error AccessDeniedException call encl Decrypt "{\"CiphertextBlob\":\"$CT\"}"
pass "Decrypt: released to the image the policy names, CMS opened by openssl cms -decrypt; not without a Recipient"

# --- (c) the same document again ---
expect_error "already used" call encl Decrypt "{\"CiphertextBlob\":\"$CT\",$(rcp "$T/d1")}"
pass "a replayed document is refused"

# --- (a) the image rebuilt with one byte changed ---
mint "$T/d-bad" "$T/att" --pcr 0="$BAD0" --pcr 1="$BAD1" --pubkey "$T/enc.spki"
expect_error AccessDeniedException call encl Decrypt "{\"CiphertextBlob\":\"$CT\",$(rcp "$T/d-bad")}"
pass "a rebuilt image one byte apart (PCR0 $BAD0) is refused"
# The trail names the attested recipient of each call (CloudTrail's fields).
LEAVES=$T/kms.db.trail/leaves
grep '"op":"Decrypt"' "$LEAVES" | grep '"outcome":"allow"' \
	| grep -q "attestationDocumentEnclaveImageDigest[^0-9a-f]*$GOOD0" \
	|| fail "no trail record of the release to PCR0 $GOOD0: $(tail -3 "$LEAVES")"
grep '"outcome":"deny"' "$LEAVES" | grep -q "attestationDocumentEnclaveImageDigest[^0-9a-f]*$BAD0" \
	|| fail "no trail record of the refusal to PCR0 $BAD0"
pass "the activity trail records the attested recipient, released or refused"

# --- (b) debug mode: all PCRs zero ---
mint "$T/d-dbg" "$T/att" --debug --pubkey "$T/enc.spki"
expect_error "debug-mode" call encl Decrypt "{\"CiphertextBlob\":\"$CT\",$(rcp "$T/d-dbg")}"
pass "a debug-mode document is refused"

# --- (d) another root; (e) altered after signing; no public_key; stale ---
mint "$T/d-other" "$T/other" --pcr 0="$GOOD0" --pubkey "$T/enc.spki"
expect_error "not the pinned root" call encl Decrypt "{\"CiphertextBlob\":\"$CT\",$(rcp "$T/d-other")}"
good_doc "$T/d-alt" --tamper	# one bit of PCR0 flipped after signing
expect_error "signature does not verify" call encl Decrypt "{\"CiphertextBlob\":\"$CT\",$(rcp "$T/d-alt")}"
mint "$T/d-nopk" "$T/att" --pcr 0="$GOOD0"
expect_error "no public_key" call encl Decrypt "{\"CiphertextBlob\":\"$CT\",$(rcp "$T/d-nopk")}"
good_doc "$T/d-future" --ts-offset 600
expect_error "in the future" call encl Decrypt "{\"CiphertextBlob\":\"$CT\",$(rcp "$T/d-future")}"
pass "another root, an altered document, no public_key, a future timestamp: refused"

# --- GenerateDataKey and GenerateRandom to the enclave ---
good_doc "$T/d2"
R=$(call encl GenerateDataKey "{\"KeyId\":\"$KID\",\"NumberOfBytes\":32,$(rcp "$T/d2")}") || fail "GenerateDataKey with Recipient: $R"
GOT=$(open_cms "$R")
[ "$(jstr Plaintext "$(call alice Decrypt "{\"CiphertextBlob\":\"$(jstr CiphertextBlob "$R")\"}")")" = "$GOT" ] \
	|| fail "GenerateDataKey: the CMS answer is not the data key of its CiphertextBlob"
good_doc "$T/d3"
R=$(call encl GenerateRandom "{\"NumberOfBytes\":48,$(rcp "$T/d3")}") || fail "GenerateRandom with Recipient: $R"
[ "$(open_cms "$R" | base64 -d | wc -c)" = 48 ] || fail "GenerateRandom: 48 bytes"
expect_error AccessDeniedException call encl GenerateRandom '{"NumberOfBytes":48}'
R=$(call alice GenerateRandom '{"NumberOfBytes":16}') || fail "plain GenerateRandom"
[ "$(jstr Plaintext "$R" | base64 -d | wc -c)" = 16 ] || fail "plain GenerateRandom: 16 bytes"
expect_error "takes an AttestationDocument Recipient only" call alice GenerateRandom \
	'{"NumberOfBytes":16,"Recipient":{"KeyEncryptionAlgorithm":"HPKE_P256_SHA256_AES256GCM","HostId":"host-1"}}'
pass "GenerateDataKey and GenerateRandom with Recipient (CMS), GenerateRandom plain"

# --- a grant is bounded by the key policy's condition (explicit deny wins) ---
call alice CreateGrant "{\"KeyId\":\"$KID\",\"GranteePrincipal\":\"arn:aws:iam::$ACCT:user/gr\",\"Operations\":[\"Decrypt\"]}" \
	>/dev/null || fail "CreateGrant"
good_doc "$T/d4"
R=$(call gr Decrypt "{\"CiphertextBlob\":\"$CT\",$(rcp "$T/d4")}") || fail "grantee with the good image: $R"
[ "$(open_cms "$R")" = "$DK" ] || fail "grantee's CMS answer"
mint "$T/d-bad2" "$T/att" --pcr 0="$BAD0" --pubkey "$T/enc.spki"
expect_error AccessDeniedException call gr Decrypt "{\"CiphertextBlob\":\"$CT\",$(rcp "$T/d-bad2")}"
expect_error AccessDeniedException call gr Decrypt "{\"CiphertextBlob\":\"$CT\"}"
pass "grant: released to the good image only, the key policy's Deny condition holds"

# --- policies: an unknown condition key is refused, never ignored ---
expect_error MalformedPolicyDocumentException call alice PutKeyPolicy \
	"{\"KeyId\":\"$KID\",\"Policy\":\"{\\\"Statement\\\":{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":\\\"*\\\",\\\"Action\\\":\\\"kms:*\\\",\\\"Resource\\\":\\\"*\\\",\\\"Condition\\\":{\\\"StringEquals\\\":{\\\"kms:RecipientAttestation:PCR32\\\":\\\"00\\\"}}}}\"}"
pass "a condition on an unknown key is refused"

# --- without --attestation-root: refused, saying why ---
kms_stop
K=("${K[@]:0:${#K[@]}-2}")	# drop --attestation-root PEM
kms_start
good_doc "$T/d5"
expect_error "no attestation root configured" call encl Decrypt "{\"CiphertextBlob\":\"$CT\",$(rcp "$T/d5")}"
pass "no attestation root: a document is refused with the reason"
