# tests/kms/lib.sh: shared set-up for the ward-kms integration tests — a
# throw-away SoftHSM2 token, CA + server/host certificates, principals, and
# a ward-kms on a free loopback port. Source it; call kms_setup, kms_start.
set -euo pipefail

KMS=${WARD_BUILD_ROOT:?}/src/kms/ward-kms
KMS_CALL=$WARD_BUILD_ROOT/tests/kms/kms_call
AWS=/usr/bin/aws
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -f "$T/server.log" ] && tail -20 "$T/server.log"; exit 1; }
pass() { echo "ok - $*"; }

kms_setup() {
	[ -x "$AWS" ] || skip "Debian's aws CLI (/usr/bin/aws) is not installed"
	[ -f "$SOFTHSM_MODULE" ] || skip "SoftHSM2 module not installed"
	command -v openssl >/dev/null || skip "openssl CLI missing"
	command -v pkcs11-tool >/dev/null || skip "pkcs11-tool (opensc) missing"
	T=$(mktemp -d /tmp/ward-kms-test.XXXXXX)
	trap kms_cleanup EXIT
	mkdir "$T/tokens"
	# Debian builds SoftHSM with the file object store only (it re-reads a
	# generation file per operation); KMS_SOFTHSM_BACKEND overrides.
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = %s\nlog.level = ERROR\n' \
		"$T" "${KMS_SOFTHSM_BACKEND:-file}" > "$T/softhsm2.conf"
	export SOFTHSM2_CONF=$T/softhsm2.conf
	echo 1234 > "$T/pin"
	echo 87654321 > "$T/sopin"
	K=("$KMS" --db "$T/kms.db" --pin-file "$T/pin" --pkcs11-module "$SOFTHSM_MODULE")
	"${K[@]}" --so-pin-file "$T/sopin" init-token || fail "init-token"
	( cd "$T"
	  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
		-out ca.pem -subj /CN=ward-test-ca -days 1
	  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key \
		-out srv.csr -subj /CN=localhost
	  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > srv.ext
	  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
		-days 1 -extfile srv.ext
	  # host1: mTLS identity and an HPKE P-256 key pair registered with KMS
	  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout host1.key \
		-out host1.csr -subj "/O=ward/CN=host1"
	  openssl x509 -req -in host1.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out host1.pem -days 1
	  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out host1-hpke.key
	  openssl pkey -in host1-hpke.key -pubout -out host1-hpke.pub
	) >/dev/null 2>&1 || fail "certificate set-up"
	export AWS_DEFAULT_REGION=us-east-1 AWS_CA_BUNDLE=$T/ca.pem AWS_CONFIG_FILE=/dev/null \
		AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_MAX_ATTEMPTS=1 AWS_PAGER= \
		AWS_EC2_METADATA_DISABLED=true
	unset AWS_PROFILE AWS_SESSION_TOKEN
}

kms_cleanup() {
	kms_stop || true
	rm -rf "$T"
}

kms_start() {
	rm -f "$T/port"
	"${K[@]}" --cert "$T/srv.pem" --key "$T/srv.key" --client-ca "$T/ca.pem" --threads "${KMS_THREADS:-0}" \
		--port 0 --port-file "$T/port" serve >>"$T/server.log" 2>&1 &
	KMS_PID=$!
	for _ in $(seq 600); do	# a 30 s bound, not a timing
		[ -s "$T/port" ] && break
		kill -0 "$KMS_PID" 2>/dev/null || fail "ward-kms exited at start"
		sleep 0.05
	done
	[ -s "$T/port" ] || fail "ward-kms did not start"
	PORT=$(cat "$T/port")
	URL=https://127.0.0.1:$PORT
}

kms_stop() {
	if [ -n "${KMS_PID:-}" ]; then
		kill "$KMS_PID" 2>/dev/null || true
		wait "$KMS_PID" 2>/dev/null || true
		KMS_PID=
	fi
}

# attest_chain DIR: a ward attestation chain made by openssl, P-384 as the
# NSM signs (root.pem → inter.pem → leaf.pem, keys beside them), and an
# enclave's RSA-2048 key (enc.key, its DER SubjectPublicKeyInfo enc.spki)
attest_chain() {
	local d=$1
	mkdir -p "$d"
	( cd "$d"
	  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout root.key \
		-out root.pem -subj "/CN=ward attestation root" -days 2 \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
	  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout inter.key \
		-out inter.csr -subj "/CN=ward attestation intermediate"
	  printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > ca.ext
	  openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial \
		-out inter.pem -days 2 -extfile ca.ext
	  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout leaf.key \
		-out leaf.csr -subj "/CN=host1 attestation"
	  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' > leaf.ext
	  openssl x509 -req -in leaf.csr -CA inter.pem -CAkey inter.key -CAcreateserial \
		-out leaf.pem -days 2 -extfile leaf.ext
	  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out enc.key
	  openssl pkey -in enc.key -pubout -outform DER -out enc.spki
	) >/dev/null 2>&1 || fail "attestation chain in $d"
}

# add_user NAME [--admin|--policy FILE]: sets NAME_AK / NAME_SK
add_user() {
	local n=$1; shift
	read -r ak sk < <("${K[@]}" admin add-principal "$n" "$@") || fail "add-principal $n"
	printf -v "${n}_AK" '%s' "$ak"
	printf -v "${n}_SK" '%s' "$sk"
}

# as USER aws-kms-args...: runs Debian's aws CLI as USER
as() {
	local n=$1; shift
	local ak=${n}_AK sk=${n}_SK
	AWS_ACCESS_KEY_ID=${!ak} AWS_SECRET_ACCESS_KEY=${!sk} \
		"$AWS" kms --endpoint-url "$URL" --output json "$@"
}

# expect_error TYPE cmd...: the command must fail with the AWS error TYPE
expect_error() {
	local want=$1; shift
	local out
	if out=$("$@" 2>&1); then
		fail "expected $want, got success: $out"
	fi
	grep -q "$want" <<<"$out" || fail "expected $want, got: $out"
}

# call USER OP JSON [kms_call options...]: signed request with the test client
call() {
	local n=$1 op=$2 body=$3; shift 3
	local ak=${n}_AK sk=${n}_SK
	"$KMS_CALL" --url "$URL" --ca "$T/ca.pem" --akid "${!ak}" --secret "${!sk}" "$@" "$op" "$body"
}

jget() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d = d[int(k)] if isinstance(d, list) else d[k]
print(d if not isinstance(d,(dict,list)) else json.dumps(d))' "$1"; }
