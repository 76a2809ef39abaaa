# tests/attach/lib.sh: the whole attach stack for one test (sourced, under
# tests/tpm/swtpm-env.sh): SoftHSM2 + ward-kms (tests/kms/lib.sh), the dev
# controller with its KMS options (tests/controller/lib.sh), principals, a
# control-plane dir, and the dev host key registered with KMS as host1.
# Also used by scripts/demo-volume.sh and bench/attach/run.sh.
SRC=${WARD_SOURCE_ROOT:?}
. "$SRC/tests/kms/lib.sh"
kms_setup
kms_start
KMS_URL=$URL
. "$SRC/tests/controller/lib.sh"
set +e
trap 'ctl_cleanup; kms_cleanup' EXIT
# tests/controller/lib.sh's fail() counts; both libs' skip paths exit 77.
# tests/kms/lib.sh's `as` and `call` use $URL, which is now the controller's.
as() {
	local n=$1; shift
	local ak=${n}_AK sk=${n}_SK
	AWS_ACCESS_KEY_ID=${!ak} AWS_SECRET_ACCESS_KEY=${!sk} \
		"$AWS" kms --endpoint-url "$KMS_URL" --output json "$@"
}
call() {
	local n=$1 op=$2 body=$3; shift 3
	local ak=${n}_AK sk=${n}_SK
	"$KMS_CALL" --url "$KMS_URL" --ca "$T/ca.pem" --akid "${!ak}" --secret "${!sk}" "$@" "$op" "$body"
}
ACCT=111122223333
ARN_PREFIX=arn:aws:iam::$ACCT:user
CP=$W/cp

attach_need() {
	local f
	for f in "$B/src/blk/ward-blk" "$B/guest/blk-check.elf"; do
		[ -e "$f" ] || { echo "FAIL: $f is missing: the build did not produce it"; exit 1; }
	done
	need
	need_kvm
}

# attach_setup: principals, PKI, controller (creates the dev host key),
# host1 registered with that key, the control-plane dir.
attach_setup() {
	add_user alice --admin
	printf '%s\n' '{"Statement":[{"Effect":"Allow","Action":["kms:DescribeKey"],"Resource":"*"}]}' >"$T/bob.json"
	add_user bob --policy "$T/bob.json"
	printf '%s\n' '{"Statement":[{"Effect":"Allow","Action":["kms:CreateForwardAccessSession","kms:CreateGrant","kms:DescribeKey"],"Resource":"*"}]}' >"$T/cp.json"
	add_user cp --policy "$T/cp.json"
	mkpki
	start_ctl_kms
	[ -s "$S/keys/dev-host.pub.pem" ] || { echo "FAIL: the dev controller made no host key"; exit 1; }
	HOST_SUBJ=$(openssl x509 -in "$T/host1.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
	"${K[@]}" admin add-host host1 --pubkey "$S/keys/dev-host.pub.pem" --cert-subject "$HOST_SUBJ" \
		>/dev/null || { echo "FAIL: add-host"; exit 1; }
	mkdir -p "$CP"
	chmod 700 "$CP"
	echo "$cp_AK $cp_SK $ARN_PREFIX/cp" >"$CP/credentials"
	chmod 600 "$CP/credentials"
	cat >"$CP/policy.json" <<EOF
{"principals":[
 {"arn":"$ARN_PREFIX/alice","access_key_id":"$alice_AK","volumes":["*"],"actions":["create","attach","detach"]},
 {"arn":"$ARN_PREFIX/bob","access_key_id":"$bob_AK","volumes":["*"],"actions":["attach","detach"]}
]}
EOF
	export WARD_CP_DIR=$CP WARD_KMS_URL=$KMS_URL WARD_KMS_CA=$T/ca.pem WARD_HOST_ID=host1
}

# The controller with encrypted volumes (host1's mTLS identity at KMS).
start_ctl_kms() {
	start_ctl --kms-url "$KMS_URL" --kms-cert "$T/host1.pem" --kms-key "$T/host1.key" \
		--kms-ca "$T/ca.pem" --host-id host1 "$@"
}

# as_user NAME cmd...: run a command with NAME's KMS credentials.
as_user() {
	local ak=${1}_AK sk=${1}_SK
	AWS_ACCESS_KEY_ID=${!ak} AWS_SECRET_ACCESS_KEY=${!sk} "${@:2}"
}

# wv USER ward-volume-args...: `ward volume` as USER with the cp certificate.
wv() { as_user "$1" "$WARD" --url "$URL" --ca "$P/ca.pem" --cert "$P/cp.pem" --key "$P/cp.key" volume "${@:2}"; }

# make_key: a KMS key owned by alice, via Debian's aws CLI.
make_key() { as alice create-key --description "ward volumes" | jget KeyMetadata.KeyId; }

# volume_key VOL: the plaintext data key (hex), learned by the test as the
# key owner straight from KMS, to search for it everywhere else.
volume_key() {
	local blob
	blob=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["volumes"][sys.argv[2]]["encrypted_key"])' "$CP/volumes.json" "$1")
	call alice Decrypt "{\"CiphertextBlob\":\"$blob\",\"EncryptionContext\":{\"ward:volume\":\"$1\"}}" |
		jget Plaintext | base64 -d | od -An -tx1 -v | tr -d ' \n'
}

# no_key_anywhere HEXKEY PATH...: none of the key's forms (raw, either XTS
# half, hex, base64) is in any file under PATHs.
no_key_anywhere() {
	python3 - "$@" <<'EOF'
import base64, os, sys
key = bytes.fromhex(sys.argv[1])
forms = {'raw': key, 'half1': key[:32], 'half2': key[32:], 'hex': key.hex().encode(),
         'HEX': key.hex().upper().encode(), 'base64': base64.b64encode(key),
         'half1-b64': base64.b64encode(key[:32])}
bad = 0
for top in sys.argv[2:]:
    files = [top] if os.path.isfile(top) else [os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs]
    for p in files:
        try:
            data = open(p, 'rb').read()
        except OSError:
            continue
        for name, f in forms.items():
            if f in data:
                print(f"key material ({name}) found in {p}")
                bad = 1
sys.exit(bad)
EOF
}

# wait_exit ID: wait until the instance has exited; prints its exit code.
wait_exit() {
	local code
	for _ in $(seq 600); do
		req cp GET "/v1/instances/$1"
		code=$(json_get '["exit_code"]' <<<"$BODY" 2>/dev/null)
		if [ "$(json_get '["state"]' <<<"$BODY" 2>/dev/null)" = exited ]; then
			echo "$code"
			return 0
		fi
		sleep 0.1
	done
	echo timeout
}

# ward_blk_pids: the ward-blk processes started by this test's controller.
ward_blk_pids() { pgrep -P "$CTL_PID" -x ward-blk; }

# standin_setup HV_STANDIN: attach_setup with a build dir $FB whose ward-hv
# is tests/controller/hv_standin.c (it holds its fds and waits, like a
# running VM, so an instance "runs" without /dev/kvm); ward-blk, the guest
# image, the KMS and the TPM are the real ones. Card processes left by a
# kill -9 of the controller are reaped at exit (their uids: ctl_start_std).
standin_setup() {
	local f
	STANDIN=${1:?hv_standin path}
	for f in "$B/src/blk/ward-blk" "$B/src/hv/ward-hv" "$B/guest/blk-check.elf" "$STANDIN"; do
		[ -e "$f" ] || { echo "FAIL: $f is missing: the build did not produce it"; exit 1; }
	done
	need
	[ "$(id -u)" = 0 ] || { echo "SKIP: ward-blk's sandbox (uid switch, namespaces) needs root"; exit 77; }
	CARD_UIDS=""
	trap standin_cleanup EXIT
	attach_setup
	mkdir -p "$CP/volumes"
	FB=$W/fakeb
	mkdir -p "$FB/src/hv" "$FB/src/blk" "$FB/guest"
	cp "$STANDIN" "$FB/src/hv/ward-hv"
	cp "$B/src/blk/ward-blk" "$FB/src/blk/ward-blk"
	cp "$B/guest/blk-check.elf" "$FB/guest/"
}

standin_cleanup() {
	[ -n "$CTL_PID" ] && kill -9 "$CTL_PID" 2>/dev/null
	[ -n "$CARD_UIDS" ] && pkill -9 -x -U "${CARD_UIDS%,}" ward-blk 2>/dev/null
	ctl_cleanup
	kms_cleanup
}

# ctl_start_std [ARGS...]: (re)start the controller with the KMS and the
# volume dir, and remember its card uids (--uid-base + 64..127) for cleanup.
ctl_start_std() {
	local base
	stop_ctl
	start_ctl_kms --volume-dir "$CP/volumes" "$@"
	base=$(tr '\0' '\n' <"/proc/$CTL_PID/cmdline" | grep -A1 -x -- --uid-base | tail -1)
	CARD_UIDS+=$(seq -s, $((base + 64)) $((base + 127))),
}
