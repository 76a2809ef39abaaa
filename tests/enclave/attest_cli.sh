#!/usr/bin/env bash
# tests/enclave/attest_cli.sh: `ward attestation verify` on AWS's real
# documents (accepted at their own time; refused now, under another root,
# when altered) and on a ward-generated document, which an independent
# cbor2 + cryptography check (attest_check.py) also accepts.
set -euo pipefail
WARD=${WARD_BUILD_ROOT:?}/src/cli/ward
GEN=$WARD_BUILD_ROOT/tests/enclave/test_attest
S=${WARD_SOURCE_ROOT:?}/tests/enclave/samples
PY=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok - $*"; }
command -v openssl >/dev/null || { echo "SKIP: openssl CLI missing"; exit 77; }
T=$(mktemp -d /tmp/ward-attest-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
ROOT=$S/AWS_NitroEnclaves_Root-G1.pem

for f in aws_nostrband_noauth_enclaved_2025-04-01 aws_stutxo_choracle_2026-04-22 aws_eternis_debug_2024-09-09; do
	$WARD attestation verify "$S/$f.b64" --root "$ROOT" --at document > "$T/out.json" || fail "$f refused"
	grep -q '"digest": "SHA384"' "$T/out.json" || fail "$f: $(cat "$T/out.json")"
	# Its certificates expired hours after it was made.
	if $WARD attestation verify "$S/$f.b64" --root "$ROOT" > /dev/null 2> "$T/err"; then fail "$f accepted now"; fi
	grep -q expired "$T/err" || fail "$f now: $(cat "$T/err")"
done
pass "AWS documents accepted at their own time, refused now"

if $WARD attestation verify "$S/aws_eternis_invalid_2024-07-23.b64" --root "$ROOT" --at document \
	> /dev/null 2> "$T/err"; then fail "altered AWS document accepted"; fi
grep -q "signature does not verify" "$T/err" || fail "invalid: $(cat "$T/err")"
pass "AWS document changed after signing refused"

# The same document as raw CBOR; the nonce checked; another root refused.
base64 -d "$S/aws_stutxo_choracle_2026-04-22.b64" > "$T/doc.cbor"
N=$($PY -c 'import cbor2,sys; print(cbor2.loads(cbor2.loads(open(sys.argv[1],"rb").read())[2])["nonce"].hex())' "$T/doc.cbor")
$WARD attestation verify "$T/doc.cbor" --root "$ROOT" --at document --nonce "$N" > /dev/null || fail "raw CBOR + nonce"
if $WARD attestation verify "$T/doc.cbor" --root "$ROOT" --at document --nonce "00$N" > /dev/null 2>&1; then
	fail "wrong nonce accepted"; fi
openssl ecparam -name secp384r1 -genkey -noout -out "$T/k.pem" 2>/dev/null
openssl req -new -x509 -key "$T/k.pem" -out "$T/other.pem" -days 30 -subj "/CN=aws.nitro-enclaves" 2>/dev/null
if $WARD attestation verify "$T/doc.cbor" --root "$T/other.pem" --at document > /dev/null 2> "$T/err"; then
	fail "other root accepted"; fi
head -c 3000 "$T/doc.cbor" > "$T/short.cbor"
if $WARD attestation verify "$T/short.cbor" --root "$ROOT" --at document > /dev/null 2>&1; then
	fail "truncated document accepted"; fi
pass "raw CBOR, nonce, another root, truncation"

# ward's own generator: an independent reader accepts what it makes.
"$GEN" emit "$T" || fail "generator"
$PY "${WARD_SOURCE_ROOT}/tests/enclave/attest_check.py" "$T/doc.cbor" "$T/root.pem" "$(cat "$T/nonce.hex")" \
	|| fail "cbor2/cryptography refused a ward document"
$WARD attestation verify "$T/doc.cbor" --root "$T/root.pem" --nonce "$(cat "$T/nonce.hex")" > "$T/w.json" \
	|| fail "ward refused its own document"
if $WARD attestation verify "$T/doc.cbor" --root "$ROOT" > /dev/null 2>&1; then fail "ward document under AWS root"; fi
pass "ward-generated document: checked by cbor2 + cryptography and by ward"
