#!/usr/bin/env bash
# tests/enclave/eif_build.sh: `ward enclave build` writes nitro-cli's EIF
# layout and prints PCR0/1/2 (and PCR8 when signed) that match an
# independent computation (eif_check.py: hashlib, zlib); describe-eif reads
# the image back, and refuses it once a byte changes (CRC) or, with the CRC
# fixed up, once the signed PCR0 no longer matches the content.
set -euo pipefail
WARD=${WARD_BUILD_ROOT:?}/src/cli/ward
CHECK=${WARD_SOURCE_ROOT:?}/tests/enclave/eif_check.py
PY=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok - $*"; }
command -v openssl >/dev/null || { echo "SKIP: openssl CLI missing"; exit 77; }
T=$(mktemp -d /tmp/ward-eif-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"

head -c 300001 /dev/urandom > kernel
head -c 70000 /dev/urandom > rd1
head -c 1234 /dev/urandom > rd2
printf 'second ramdisk\n' > rd3
CMD="console=ttyS0 reboot=k panic=30 pci=off nomodule"

# Same PCRs from ward and from the independent reader, as JSON (keys sorted).
same_pcrs() { # ward-json python-json
	$PY -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(a!=b)' "$1" "$2"
}

$WARD enclave build --kernel kernel --cmdline "$CMD" --ramdisk rd1 --ramdisk rd2 --ramdisk rd3 \
	--output-file one.eif > one.json || fail "build"
grep -q '"HashAlgorithm": "Sha384 { ... }"' one.json || fail "HashAlgorithm line: $(cat one.json)"
$PY "$CHECK" one.eif kernel "$CMD" rd1 rd2 rd3 > one.py.json || fail "independent reader refused the image"
same_pcrs one.json one.py.json || fail "PCRs differ: ward $(cat one.json) python $(cat one.py.json)"
pass "unsigned image: layout and PCR0/1/2 match hashlib"

# One ramdisk: PCR2 is the extend of the hash of nothing.
$WARD enclave build --kernel kernel --cmdline "$CMD" --ramdisk rd1 --output-file single.eif > single.json
$PY "$CHECK" single.eif kernel "$CMD" rd1 > single.py.json
same_pcrs single.json single.py.json || fail "single ramdisk PCRs differ"
pass "single ramdisk image"

$WARD enclave describe-eif --eif-path one.eif > d.json || fail "describe-eif refused a good image"
$PY -c 'import json,sys; a=json.load(open("d.json")); b=json.load(open("one.json"))
sys.exit(not (a["Measurements"]==b["Measurements"] and a["IsSigned"] is False and a["EifVersion"]==4))' \
	|| fail "describe-eif: $(cat d.json)"
pass "describe-eif reads back the same PCRs"

# One changed byte in the kernel: the CRC catches it.
cp one.eif bad.eif
printf '\x00' | dd of=bad.eif bs=1 seek=1000 conv=notrunc status=none
cmp -s one.eif bad.eif && printf '\x01' | dd of=bad.eif bs=1 seek=1000 conv=notrunc status=none
if $WARD enclave describe-eif --eif-path bad.eif > /dev/null 2> err; then fail "changed byte accepted"; fi
grep -q CRC32 err || fail "expected a CRC error, got: $(cat err)"
# Trailing garbage and truncation.
cp one.eif long.eif; printf 'x' >> long.eif
! $WARD enclave describe-eif --eif-path long.eif > /dev/null 2>&1 || fail "trailing byte accepted"
head -c -1 one.eif > short.eif
! $WARD enclave describe-eif --eif-path short.eif > /dev/null 2>&1 || fail "truncated image accepted"
pass "changed, extended and truncated images refused"

# Signed image: P-384 key and self-signed certificate, as nitro-cli takes.
openssl ecparam -name secp384r1 -genkey -noout -out key.pem 2>/dev/null
openssl req -new -x509 -key key.pem -out cert.pem -days 30 -subj "/CN=ward eif test" 2>/dev/null
$WARD enclave build --kernel kernel --cmdline "$CMD" --ramdisk rd1 --ramdisk rd2 \
	--signing-certificate cert.pem --private-key key.pem --output-file signed.eif > s.json || fail "signed build"
$PY "$CHECK" signed.eif kernel "$CMD" rd1 rd2 --cert cert.pem > s.py.json || fail "reader refused signed image"
same_pcrs s.json s.py.json || fail "signed PCRs differ: ward $(cat s.json) python $(cat s.py.json)"
$WARD enclave describe-eif --eif-path signed.eif > sd.json
grep -q '"SignatureCheck": true' sd.json && grep -q '"PCR8"' sd.json || fail "describe signed: $(cat sd.json)"
pass "signed image: PCR8 = extend(SHA-384(certificate DER)), signature checks"

# A key that is not the certificate's is refused at build time.
openssl ecparam -name secp384r1 -genkey -noout -out other.pem 2>/dev/null
if $WARD enclave build --kernel kernel --cmdline "$CMD" --ramdisk rd1 --signing-certificate cert.pem \
	--private-key other.pem --output-file x.eif > /dev/null 2> err; then fail "mismatched key accepted"; fi
[ ! -e x.eif ] || fail "an image was written with a mismatched key"
pass "mismatched signing key refused"

# Change the first ramdisk of the signed image and fix the CRC up: the
# signature no longer covers PCR0, so describe-eif must refuse it.
$PY - signed.eif resigned.eif <<'PY'
import struct, sys, zlib
img = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack(">H", img[26:28])[0]
offs = struct.unpack(">32Q", img[28:28 + 256])
for o in offs[:n]:
    if struct.unpack(">H", img[o:o + 2])[0] == 3:   # first ramdisk
        img[o + 12 + 5] ^= 0xff
        break
struct.pack_into(">I", img, 544, zlib.crc32(bytes(img[:544] + img[548:])))
open(sys.argv[2], "wb").write(img)
PY
if $WARD enclave describe-eif --eif-path resigned.eif > /dev/null 2> err; then fail "re-CRC'd tampered signed image accepted"; fi
grep -q "another PCR0" err || fail "expected a PCR0 signature error, got: $(cat err)"
pass "tampered signed image refused by its signature"
