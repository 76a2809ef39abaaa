# tests/api/lib.sh: shared set-up for the ward-api integration tests — a
# throw-away CA and server certificate, a store and master key in a temp
# dir, ward-api on a free loopback port, and Debian's aws CLI pointed at
# it. Source it; call api_setup, api_start.
set -euo pipefail

API=${WARD_BUILD_ROOT:?}/src/api/ward-api
AWS=/usr/bin/aws

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -f "$T/server.log" ] && tail -20 "$T/server.log"; exit 1; }
pass() { echo "ok - $*"; }

api_setup() {
	[ -x "$AWS" ] || skip "Debian's aws CLI (/usr/bin/aws) is not installed"
	command -v openssl >/dev/null || skip "openssl CLI missing"
	T=$(mktemp -d /tmp/ward-api-test.XXXXXX)
	trap api_cleanup EXIT
	( cd "$T"
	  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
		-out ca.pem -subj /CN=ward-api-test-ca -days 1
	  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key \
		-out srv.csr -subj /CN=localhost
	  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > srv.ext
	  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
		-days 1 -extfile srv.ext
	) >/dev/null 2>&1 || fail "certificate set-up"
	A=("$API" --db "$T/api.db" --master-key-file "$T/master.key")
	# A throw-away CLI configuration: nothing from the machine's ~/.aws.
	: > "$T/aws-config"
	: > "$T/aws-credentials"
	export AWS_DEFAULT_REGION=us-east-1 AWS_CA_BUNDLE=$T/ca.pem AWS_CONFIG_FILE=$T/aws-config \
		AWS_SHARED_CREDENTIALS_FILE=$T/aws-credentials AWS_MAX_ATTEMPTS=1 AWS_PAGER= \
		AWS_EC2_METADATA_DISABLED=true
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
}

api_cleanup() {
	local rc=$?
	api_stop || true
	# ASan/UBSan builds: a report in ward-api's log fails the test.
	if grep -q "Sanitizer" "$T/server.log" 2>/dev/null; then
		echo "FAIL: sanitizer report from ward-api:"
		grep -A30 "Sanitizer" "$T/server.log" | head -60
		rc=1
	fi
	rm -rf "$T"
	exit $rc
}

api_start() {
	rm -f "$T/port"
	"${A[@]}" --cert "$T/srv.pem" --key "$T/srv.key" --port 0 --port-file "$T/port" \
		serve >>"$T/server.log" 2>&1 &
	API_PID=$!
	for _ in $(seq 200); do
		[ -s "$T/port" ] && break
		kill -0 "$API_PID" 2>/dev/null || fail "ward-api exited at start"
		sleep 0.05
	done
	[ -s "$T/port" ] || fail "ward-api did not start"
	URL=https://127.0.0.1:$(cat "$T/port")
}

api_stop() {
	if [ -n "${API_PID:-}" ]; then
		kill "$API_PID" 2>/dev/null || true
		wait "$API_PID" 2>/dev/null || true
		API_PID=
	fi
}

# set_creds NAME AKID SECRET [TOKEN]
set_creds() {
	printf -v "${1}_AK" '%s' "$2"
	printf -v "${1}_SK" '%s' "$3"
	printf -v "${1}_TK" '%s' "${4:-}"
}

# as NAME SERVICE args...: Debian's aws CLI with NAME's credentials
as() {
	local n=$1 svc=$2; shift 2
	local ak=${n}_AK sk=${n}_SK tk=${n}_TK
	if [ -n "${!tk:-}" ]; then
		AWS_ACCESS_KEY_ID=${!ak} AWS_SECRET_ACCESS_KEY=${!sk} AWS_SESSION_TOKEN=${!tk} \
			"$AWS" "$svc" --endpoint-url "$URL" --output json "$@"
	else
		AWS_ACCESS_KEY_ID=${!ak} AWS_SECRET_ACCESS_KEY=${!sk} \
			"$AWS" "$svc" --endpoint-url "$URL" --output json "$@"
	fi
}

# expect_error CODE cmd...: the command must fail with the AWS error CODE
expect_error() {
	local want=$1; shift
	local out
	if out=$("$@" 2>&1); then
		fail "expected $want, got success: $out"
	fi
	grep -q "($want)" <<<"$out" || fail "expected $want, got: $out"
}

jget() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d = d[int(k)] if isinstance(d, list) else d[k]
print(d if not isinstance(d,(dict,list)) else json.dumps(d, sort_keys=True))' "$1"; }
