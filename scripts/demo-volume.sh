#!/usr/bin/env bash
# demo-volume.sh BUILD_DIR: an encrypted volume end to end (docs/attach.md) —
# a private swtpm, SoftHSM2 + ward-kms, the controller (development build,
# with a TPM host key), a KMS key made with the aws CLI, `ward volume create`
# and `attach` (grant + forward access session + HPKE to the TPM key), the
# blk-check guest using the volume, the backing store holding only
# ciphertext, detach (key wiped, grant retired), the audit log verified.
# Everything runs in temporary dirs and is cleaned up.
set -uo pipefail
B=$(cd "${1:?usage: demo-volume.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${WARD_TPM_TCTI:-}" ]; then
	exec bash "$SRC/tests/tpm/swtpm-env.sh" bash "$0" "$B"
fi
export WARD_BUILD_ROOT=$B WARD_SOURCE_ROOT=$SRC
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD="" PLAIN=""; fi
say() { printf '\n%s-- %s%s\n' "$BOLD" "$*" "$PLAIN"; }
die() { echo "demo-volume: $*"; exit 1; }

say "a private swtpm ($WARD_TPM_TCTI), SoftHSM2 token + ward-kms, the controller"
# Why not the measured controller of part 2: this part shares its set-up
# with tests/attach (tests/attach/lib.sh), which starts the development
# controller and has it make the TPM host key that KMS knows, instead of
# provisioning a signed firmware store first. The key is sealed to PCR 12
# the same way; docs/attach.md shows the flow on a measured host.
echo "  This part runs ward-controller-dev (the development build, not measured"
echo "  through ward-boot as in part 2): it shares tests/attach's set-up, where the"
echo "  controller makes its TPM host key without a provisioned firmware store."
echo "  The host key is sealed to PCR 12 all the same; docs/attach.md shows the"
echo "  same flow on a measured host."
. "$SRC/tests/attach/lib.sh"
attach_need
attach_setup >/dev/null
echo "  ward-kms       $KMS_URL (hosts: mTLS; users: SigV4)"
echo "  controller     $URL (development build: dev host key in the TPM, bound to PCR 12)"
grep -h 'DEV host key' "$W/ctl.log" | sed 's/^/  log: /'
echo "  host1 registered at KMS with the controller's TPM public key ($S/keys/dev-host.pub.pem)"
# The environment of the printed commands, once, in a file: it holds
# alice's access key, which is not printed.
{
	printf 'export PATH=%s/src/cli:"$PATH"\n' "$B"
	printf 'export WARD_URL=%s WARD_CA=%s WARD_CERT=%s WARD_KEY=%s\n' "$URL" "$P/ca.pem" \
		"$P/cp.pem" "$P/cp.key"
	printf 'export WARD_CP_DIR=%s WARD_KMS_URL=%s WARD_KMS_CA=%s\n' "$CP" "$KMS_URL" "$T/ca.pem"
	printf 'export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_CA_BUNDLE=%s AWS_DEFAULT_REGION=us-east-1\n' \
		"$alice_AK" "$alice_SK" "$T/ca.pem"
} >"$W/demo.env"
chmod 600 "$W/demo.env"
echo "  to paste the commands below into a shell: . $W/demo.env"
echo "  (PATH with ward, WARD_* for the controller and KMS, alice's AWS access key)"

say "alice creates a KMS key with the aws CLI"
echo "\$ aws kms --endpoint-url $KMS_URL create-key --description 'ward volumes'"
KID=$(make_key) || die "create-key"
echo "  KeyId $KID"

say "alice creates a 16 MiB encrypted volume: the data key is generated inside KMS"
echo "\$ ward volume create --size 16M --kms-key $KID --id vol-demo"
wv alice create --size 16M --kms-key "$KID" --id vol-demo | sed 's/^/  /' || die "volume create"
echo "  (encrypted_key is the KMS-wrapped key: the plaintext key is stored nowhere)"

say "alice attaches it to a new instance running blk-check"
echo "\$ ward volume attach vol-demo --image blk-check --memory 64M"
wv alice attach vol-demo --image blk-check --memory 64M >"$W/attach.out" 2>&1 || { cat "$W/attach.out"; die "attach"; }
sed 's/^/  /' "$W/attach.out"
ID=$(json_get '["id"]' <"$W/attach.out")
grep -h 'unsealed into ward-blk\|volume attached' "$W/ctl.log" | sed 's/^/  log: /'
code=$(wait_exit "$ID")
echo "  blk-check wrote, flushed and read back its patterns through ward-blk: exit code $code (0 = ok)"
[ "$code" = 0 ] || die "blk-check failed"

say "the backing store holds only ciphertext"
echo "\$ xxd -l 64 $CP/volumes/vol-demo.img"
xxd -l 64 "$CP/volumes/vol-demo.img" | sed 's/^/  /'
python3 - "$CP/volumes/vol-demo.img" <<'EOF' || die "backing store check"
import struct, sys
data = open(sys.argv[1], 'rb').read(4096)
w = struct.unpack('<64Q', data[:512])
assert data != bytes(4096)
assert not all(w[i] ^ w[i + 1] == i ^ (i + 1) for i in range(63))
print("  written, and blk-check's plaintext pattern (word i ^ word i+1 = i ^ i+1) is not there")
EOF

say "detach: the key is wiped in ward-blk and the grant is retired"
echo "\$ ward volume detach vol-demo"
wv alice detach vol-demo | sed 's/^/  /' || die "detach"
grep -h 'key wiped' "$W/ctl.log" | sed 's/^/  log: /'
pgrep -P "$CTL_PID" -x ward-blk >/dev/null && die "ward-blk still running"
echo "  no ward-blk is running: no copy of the key is left on the host"
echo "\$ aws kms list-grants --key-id $KID"
as alice list-grants --key-id "$KID" | sed 's/^/  /'

say "a fresh session is needed for every attach: replaying the old launch is refused"
wv alice attach vol-demo --image blk-check --memory 64 --spec-only >"$W/spec"
req cp POST /v1/instances "$(cat "$W/spec")"
echo "  first use: HTTP $STATUS"
req cp DELETE "/v1/instances/$(json_get '["id"]' <<<"$BODY")" >/dev/null
req cp POST /v1/instances "$(cat "$W/spec")"
echo "  replay:    HTTP $STATUS $BODY"
wv alice detach vol-demo >/dev/null

say "the audit log: every step recorded, verified offline"
ward_cli cp audit fetch --out "$W/audit" | sed 's/^/  /'
grep -ao '{[^{}]*"type":"volume"[^{}]*}' "$W/audit/leaves" | sed 's/^/  /' | head -12
echo "\$ ward audit verify \$W/audit --pubkey $S/keys/audit-sign.pub.pem"
"$WARD" audit verify "$W/audit" --pubkey "$S/keys/audit-sign.pub.pem" | sed 's/^/  /' || die "audit verify"
stop_ctl
say "done: key made in KMS, sealed to the TPM, used only inside ward-blk, wiped on detach"
