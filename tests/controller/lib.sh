# lib.sh: helpers for the ward-controller integration tests (sourced).
# Needs WARD_BUILD_ROOT, WARD_SOURCE_ROOT and a swtpm (run the test under
# tests/tpm/swtpm-env.sh, which exports WARD_TPM_TCTI).
set -uo pipefail

B=${WARD_BUILD_ROOT:?}
SRC=${WARD_SOURCE_ROOT:?}
CTL=$B/src/controller/ward-controller-dev
WARD=$B/src/cli/ward
W=$(mktemp -d "${TMPDIR:-/tmp}/ward-ctl-test.XXXXXX")
P=$W/pki
S=$W/state
CTL_PID=""
PORT=""
FAILS=0

ctl_cleanup() {
	[ -n "$CTL_PID" ] && kill -9 "$CTL_PID" 2>/dev/null
	# VMs outlive the controller by design: stop the ones this test started.
	for f in "$S"/instances/*.json; do
		[ -f "$f" ] || continue
		pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$f" 2>/dev/null)
		[ -n "$pid" ] && grep -q ward-hv "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid" 2>/dev/null
	done
	# Cards outlive the controller too (they are re-adopted): stop them.
	for f in "$S"/cards/*.json; do
		[ -f "$f" ] || continue
		pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$f" 2>/dev/null)
		[ -n "$pid" ] && grep -q ward-blk "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid" 2>/dev/null
	done
	# So does the host's ward-net (netcard.c): stop it.
	if [ -f "$S/netcard.json" ]; then
		pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$S/netcard.json" 2>/dev/null)
		[ -n "$pid" ] && [ "$pid" != 0 ] && grep -q ward-net "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid" 2>/dev/null
	fi
	# A case that grew the host's hugepage pool puts it back.
	[ -n "${HUGE_ORIG:-}" ] && sleep 0.3 &&
		echo "$HUGE_ORIG" >/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
	[ -n "${WARD_TEST_KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
trap ctl_cleanup EXIT

need() {
	[ -x "$CTL" ] && [ -x "$WARD" ] || { echo "FAIL: $CTL or $WARD is missing: the build did not produce it"; exit 1; }
	command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
}

need_kvm() {
	[ -x "$B/src/hv/ward-hv" ] || { echo "FAIL: $B/src/hv/ward-hv is missing: the build did not produce it"; exit 1; }
	[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
	[ "$(id -u)" = 0 ] || { echo "SKIP: ward-hv's sandbox (namespaces, uid switch) needs root"; exit 77; }
}

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
check() { # description, command...
	local d=$1; shift
	if "$@"; then ok "$d"; else fail "$d"; fi
}

mkpki() { bash "$SRC/tests/controller/mkpki.sh" "$P" || { echo "mkpki failed"; exit 1; }; }

# start_ctl [extra args...]: start the controller, wait for its port.
start_ctl() {
	rm -f "$W/port"
	"$CTL" --state-dir "$S" --tcti "$WARD_TPM_TCTI" --listen 127.0.0.1:0 \
		--port-file "$W/port" --tls-cert "$P/server.pem" --tls-key "$P/server.key" \
		--client-ca "$P/ca.pem" --dev-images "$B" --request-timeout 3 \
		--uid-base $((300000 + RANDOM * 16)) "$@" 2>>"$W/ctl.log" &
	CTL_PID=$!
	for _ in $(seq 600); do
		[ -s "$W/port" ] && break
		kill -0 "$CTL_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$W/port" ]; then
		echo "controller did not start:"; cat "$W/ctl.log"; exit 1
	fi
	PORT=$(cat "$W/port")
	URL=https://127.0.0.1:$PORT
}

stop_ctl() {
	local rc
	[ -n "$CTL_PID" ] || return 0
	kill "$CTL_PID" 2>/dev/null
	wait "$CTL_PID" 2>/dev/null
	rc=$?
	CTL_PID=""
	[ "$rc" = 0 ] || fail "controller exited with status $rc on SIGTERM"
	if grep -q 'Sanitizer' "$W/ctl.log"; then
		fail "sanitizer report in the controller log"
		grep -A30 'Sanitizer' "$W/ctl.log" | head -60
	fi
}

# req ROLE METHOD PATH [BODY]: sets STATUS and BODY (file $W/body).
req() {
	local role=$1 method=$2 path=$3 data=${4-}
	local args=(-sS -o "$W/body" -w '%{http_code}' --max-time 20 --cacert "$P/ca.pem"
		--cert "$P/$role.pem" --key "$P/$role.key" -X "$method")
	[ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
	STATUS=$(curl "${args[@]}" "$URL$path" 2>"$W/curl.err")
	BODY=$(cat "$W/body" 2>/dev/null)
	# NO_RECORD=1: an answer that may carry console output by design
	# (the control plane's console route), kept out of the leak checks.
	if [ -z "${NO_RECORD:-}" ]; then
		cat "$W/body" >>"$W/all-responses" 2>/dev/null
		echo >>"$W/all-responses"
	fi
}

ward_cli() { "$WARD" --url "$URL" --ca "$P/ca.pem" --cert "$P/$1.pem" --key "$P/$1.key" "${@:2}"; }

# The full route table, as written in routes.c, with the roles it grants.
route_table() {
	python3 - "$SRC/src/controller/routes.c" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
for m in re.finditer(r'\{\s*"(\w+)",\s*"([^"]+)",\s*([A-Z |]+),\s*api_\w+\s*\}', src):
    roles = sorted(r.strip() for r in m.group(3).split('|'))
    print(m.group(1), m.group(2), ','.join(roles))
PY
}

json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed; controller log:"; tail -40 "$W/ctl.log"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
