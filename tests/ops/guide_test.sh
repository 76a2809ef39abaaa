#!/usr/bin/env bash
# guide_test.sh: docs/operations.md's `sh` blocks, in order and exactly as
# written, in one `bash -e` shell, against the binaries of a `meson install
# --destdir` of this build, in a temporary WARD_HOME on free loopback ports.
# Then: the host is in service (ward host), the KMS made a key through the
# aws CLI, ward-api answered the aws CLI and admitted the host by TPM
# attestation, and aws ec2 made a subnet and a volume. No guest is booted.
set -uo pipefail
B=${WARD_BUILD_ROOT:?}
SRC=${WARD_SOURCE_ROOT:?}
GUIDE=${WARD_GUIDE:-$SRC/docs/operations.md}
skip() { echo "SKIP: $*"; exit 77; }
for t in swtpm swtpm_ioctl tpm2_createek openssl curl /usr/bin/aws; do
	command -v "$t" >/dev/null || skip "$t is not installed (scripts/deps.sh)"
done
[ -f /usr/lib/softhsm/libsofthsm2.so ] || skip "SoftHSM2 (package softhsm2) is not installed"
[ "$(id -u)" = 0 ] || skip "the guide runs as root (the controller's launcher)"

D=$(mktemp -d "${TMPDIR:-/tmp}/ward-guide-test.XXXXXX")
H=$D/home
cleanup() {
	local f
	for f in "$H/api/pid" "$H/controller.pid" "$H/kms/pid" "$H/tpm/pid"; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

meson install -C "$B" --destdir "$D/root" --no-rebuild --quiet >"$D/install.log" 2>&1 ||
	{ cat "$D/install.log"; echo "FAIL: meson install"; exit 1; }
PREFIX=$(meson introspect "$B" --buildoptions |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')

# Free loopback ports (the TPM's and the next one for swtpm's control).
read -r TPM_P KMS_P CTL_P API_P < <(python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', p)); return True
    except OSError:
        return False
    finally:
        s.close()
got = []
while len(got) < 4:
    p = random.randrange(20000, 60000, 2)
    if free(p) and free(p + 1) and p not in got:
        got.append(p)
print(*got)
PY
)

# The guide's blocks, verbatim, after the settings its section 1 lets a
# caller give (the variables have defaults there) and an aws CLI kept away
# from this machine's own configuration.
python3 - "$GUIDE" >"$D/guide.sh" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r'^```sh\n(.*?)^```', text, re.S | re.M)
if len(blocks) < 10:
    sys.exit(f'only {len(blocks)} sh blocks in {sys.argv[1]}')
for i, b in enumerate(blocks):
    print(f'# ---- block {i + 1}')
    print(b, end='')
PY
[ -s "$D/guide.sh" ] || { echo "FAIL: no sh blocks extracted from $GUIDE"; exit 1; }
echo "running $(grep -c '^# ---- block' "$D/guide.sh") blocks of $GUIDE"
(
	export WARD_HOME=$H WARD_PREFIX=$D/root$PREFIX WARD_SRC=$SRC
	export WARD_TPM_PORT=$TPM_P WARD_KMS_PORT=$KMS_P WARD_CTL_PORT=$CTL_P WARD_API_PORT=$API_P
	export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_MAX_ATTEMPTS=1 \
		AWS_PAGER= AWS_EC2_METADATA_DISABLED=true
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_CA_BUNDLE
	unset WARD_URL WARD_CA WARD_CERT WARD_KEY WARD_TPM_TCTI SOFTHSM2_CONF
	cd "$D" && bash -e -o pipefail "$D/guide.sh"
) >"$D/guide.out" 2>&1
rc=$?
cat "$D/guide.out"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
[ "$rc" = 0 ] || fail "the guide's commands exited with status $rc"

state=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' "$H/host.json" 2>/dev/null)
[ "$state" = in-service ] && echo "ok: the host is in service" ||
	fail "the host is not in service: $(cat "$H/host.json" 2>/dev/null)"
grep -Eq '^[0-9a-f-]{36}$' "$H/kms/key-id" 2>/dev/null && echo "ok: the aws CLI made KMS key $(cat "$H/kms/key-id")" ||
	fail "no KMS key id: $(cat "$H/kms/key-id" 2>/dev/null)"
grep -q '"Arn": *"arn:aws:iam::[0-9]*:user/admin"' "$H/api/whoami.json" 2>/dev/null &&
	echo "ok: ward-api answered the aws CLI as admin" || fail "ward-api: $(cat "$H/api/whoami.json" 2>/dev/null)"
grep -q '"State": *"admitted"' "$H/api/host.json" 2>/dev/null &&
	echo "ok: ward-api admitted the host by TPM attestation" ||
	fail "the host was not admitted: $(cat "$H/api/host.json" 2>/dev/null)"
grep -Eq '^subnet-[0-9a-f]+$' "$H/api/subnet-id" 2>/dev/null && grep -Eq '^vol-[0-9a-f]+$' "$H/api/volume-id" 2>/dev/null &&
	echo "ok: the aws CLI made a subnet and a volume through ward-api" ||
	fail "no subnet or volume id: $(cat "$H/api/subnet-id" "$H/api/volume-id" 2>/dev/null)"
# Secrets never in logs: the PINs and the secret keys the guide made.
for s in "$H/kms/pin" "$H/kms/so-pin"; do
	grep -rqF -- "$(cat "$s")" "$D/guide.out" "$H"/*.log "$H"/kms/*.log "$H"/api/*.log 2>/dev/null &&
		fail "a PIN is in the output or a log"
done
if grep -q Sanitizer "$D/guide.out" "$H"/*.log "$H"/kms/*.log "$H"/api/*.log 2>/dev/null; then
	fail "sanitizer report"; grep -h -A20 Sanitizer "$H"/*.log "$H"/kms/*.log "$H"/api/*.log | head -40
fi
if [ "$FAILS" != 0 ]; then
	for l in "$H/controller.log" "$H/kms/kms.log" "$H/api/api.log"; do
		[ -f "$l" ] && { echo "--- $l"; tail -20 "$l"; }
	done
	exit 1
fi
echo "all checks passed"
