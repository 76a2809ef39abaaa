#!/usr/bin/env bash
# cardpath_test.sh ip|hostname: the encrypted-volume card path of a
# locked-down ward-controller (seccomp + Landlock, src/controller/
# allowlist.c), on any host, KVM or not. Everything of an attach happens
# before ward-hv runs: ward-blk started by the launcher, KMS Decrypt over
# libcurl (mTLS, CA file read per request, Landlock's TCP connect rule),
# HPKE open with TPM2_ECDH_ZGen, the backing store opened and ATTACHed.
# Without /dev/kvm the instance's ward-hv then exits 125 (no KVM), which
# also runs the release path: DETACH, key wiped, card stopped and reaped.
# "hostname" reaches KMS by name (https://localhost:PORT), so libc's
# resolver runs under the filter too.
. "$WARD_SOURCE_ROOT/tests/attach/lib.sh"
CASE=${1:?ip|hostname}
[ -x "$B/src/blk/ward-blk" ] || { echo "FAIL: $B/src/blk/ward-blk is missing: the build did not produce it"; exit 1; }
[ -x "$B/src/hv/ward-hv" ] || { echo "FAIL: $B/src/hv/ward-hv is missing: the build did not produce it"; exit 1; }
need
[ "$(id -u)" = 0 ] || { echo "SKIP: ward-blk's sandbox (uid switch, namespaces) needs root"; exit 77; }
KVM=0
[ -w /dev/kvm ] && KVM=1
# The control plane's directory, where `ward volume create` puts the backing
# files, outside the test dir: the port file's directory ($W) is writable
# to the controller, and a host's volume store is never under either.
CP=$(mktemp -d /tmp/ward-cardpath-cp.XXXXXX)
NBD_PID=""
# A controller that dies mid-attach leaves the card it had started (its
# record is written only once the attach is done): stop those too, by the
# card uids (uid base + 64 + k) of this test's controllers.
CARD_UIDS=""
cardpath_cleanup() {
	[ -n "$CTL_PID" ] && kill -9 "$CTL_PID" 2>/dev/null
	[ -n "$CARD_UIDS" ] && pkill -9 -x -U "${CARD_UIDS%,}" ward-blk 2>/dev/null
	[ -n "$NBD_PID" ] && kill "$NBD_PID" 2>/dev/null
	ctl_cleanup
	kms_cleanup
	rm -rf "$CP"
}
trap cardpath_cleanup EXIT
attach_setup
mkdir -p "$CP/volumes"
# An NBD server for a network-backed volume (docs/blk.md), on a free port.
if command -v nbdkit >/dev/null; then
	NBD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	nbdkit -f -i 127.0.0.1 -p "$NBD_PORT" memory 16M 2>"$W/nbdkit.log" &
	NBD_PID=$!
fi
# start_cardpath_ctl: the controller with the backing stores' directory and
# the NBD server's port, the only ones its lockdown lets it reach.
start_cardpath_ctl() {
	local base
	start_ctl_kms --volume-dir "$CP/volumes" ${NBD_PID:+--nbd-port "$NBD_PORT"}
	base=$(tr '\0' '\n' <"/proc/$CTL_PID/cmdline" | grep -A1 -x -- --uid-base | tail -1)
	CARD_UIDS+=$(seq -s, $((base + 64)) $((base + 127))),
}
stop_ctl
if [ "$CASE" = hostname ]; then
	# Not "localhost": curl answers that itself, without libc's resolver.
	# This host's own name, from /etc/hosts, on a certificate that names it.
	name=$(hostname)
	addr=$(getent ahostsv4 "$name" | awk 'NR == 1 {print $1}')
	case $addr in
	127.*) ;;
	*) echo "SKIP: this host's name ($name) does not resolve to a loopback address ($addr), where the test's ward-kms listens"; exit 77;;
	esac
	kms_stop
	( cd "$T"
	  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key \
		-out srv.csr -subj "/CN=$name"
	  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:%s\n' "$name" > srv.ext
	  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
		-days 1 -extfile srv.ext ) >/dev/null 2>&1 || { echo "FAIL: server certificate for $name"; exit 1; }
	kms_start
	KMS_URL=https://$name:$PORT
	export WARD_KMS_URL=$KMS_URL
fi
start_cardpath_ctl
echo "KMS at $KMS_URL; /dev/kvm usable: $KVM"
check "the controller locked itself down before serving" grep -q 'msg="locked down"' "$W/ctl.log"
grep -o 'msg="locked down".*' "$W/ctl.log" | tail -1
check "seccomp is on for the controller" grep -q '^Seccomp:[[:space:]]*2' "/proc/$CTL_PID/status"
LANDLOCK=1
grep -q "Landlock not available" "$W/ctl.log" && LANDLOCK=0

KID=$(make_key)
[ -n "$KID" ] || { echo "FAIL: create-key"; exit 1; }
wv alice create --size 16M --kms-key "$KID" --id vol-1 >"$W/create.out" ||
	{ cat "$W/create.out"; echo "FAIL: volume create"; exit 1; }
KEY1=$(volume_key vol-1)
check "the test learned the 64-byte data key from KMS as its owner" [ ${#KEY1} = 128 ]

# audited EVENT [INSTANCE]: a "volume" record of that event.
audited() {
	python3 -c 'import json,sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(not any(r.get("type") == "volume" and r.get("event") == sys.argv[2] and
                 (len(sys.argv) < 4 or r.get("instance") == sys.argv[3]) and
                 (sys.argv[2] != "detached" or r.get("key_wiped") is True) for r in recs))' \
		"$S/audit/leaves" "$@"
}

# 1. A whole attach after lockdown.
wv alice attach vol-1 --image blk-check --memory 64 >"$W/attach.out" 2>"$W/attach.err"
rc=$?
cat "$W/attach.out" "$W/attach.err"
check "attach after lockdown succeeds: card launched, KMS Decrypt, TPM HPKE open, ATTACH" [ "$rc" = 0 ]
if ! kill -0 "$CTL_PID" 2>/dev/null; then
	wait "$CTL_PID"
	fail "the controller died during the attach (exit status $?; 159 is SIGSYS, a call outside its allowlist)"
	CTL_PID=""
	finish
fi
ok "the controller survived it (no SIGSYS)"
if [ "$rc" != 0 ]; then
	fail "attach refused; nothing further to check"
	finish
fi
ID=$(json_get '["id"]' <"$W/attach.out" 2>/dev/null)
check "the instance lists its volume" grep -q '"volumes": *\["vol-1"\]' "$W/attach.out"
check "the card was started, its key unsealed and ATTACHed" \
	grep -q 'msg="volume key unsealed into ward-blk" volume=vol-1' "$W/ctl.log"
check "ward-blk served the volume (attached, encrypted, store fd)" \
	grep -q 'msg="volume attached" volume=vol-1 .*encrypted=yes' "$W/ctl.log"
code=$(wait_exit "$ID")
if [ "$KVM" = 1 ]; then
	check "blk-check in the instance: exit 0 (got $code)" [ "$code" = 0 ]
else
	check "no KVM: ward-hv exits 125, a setup error (got $code)" [ "$code" = 125 ]
fi
# The instance ended: the controller DETACHes (the card wipes the key) and
# stops and reaps the card, all under the filter.
for _ in $(seq 100); do audited detached "$ID" && break; sleep 0.1; done
check "audit: attach requested, key unsealed" bash -c "grep -qa 'attach requested' '$S/audit/leaves' && grep -qa 'key unsealed' '$S/audit/leaves'"
check "audit: attached to the instance" audited attached "$ID"
check "audit: detached with the key wiped when the instance ended" audited detached "$ID"
for _ in $(seq 100); do pgrep -P "$CTL_PID" -x ward-blk >/dev/null || break; sleep 0.1; done
check "the card is stopped and reaped" bash -c "! pgrep -P $CTL_PID -x ward-blk >/dev/null && ! ps -o stat= --ppid $CTL_PID | grep -q Z"
check "no card record left" bash -c "[ -z \"\$(ls '$S/cards')\" ]"
wv alice detach vol-1 >"$W/detach.out" 2>&1
check "ward volume detach retires the grant" grep -q '"grant_retired":"[0-9a-f]' "$W/detach.out"
cat "$W/detach.out"

spec() { wv alice attach "$1" --image blk-check --memory 64 --spec-only "${@:2}"; }

# 1b. A network store: NBD over TCP to the port named with --nbd-port.
if [ -n "$NBD_PID" ]; then
	spec vol-1 >"$W/spec-nbd0" || fail "spec"
	python3 - "$W/spec-nbd0" "nbd://127.0.0.1:$NBD_PORT/" >"$W/spec-nbd" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
s["volumes"][0]["backing"] = sys.argv[2]
print(json.dumps(s))
EOF
	req cp POST /v1/instances "$(cat "$W/spec-nbd")"
	echo "   $BODY"
	check "an NBD-backed volume attaches after lockdown: 201 (got $STATUS)" [ "$STATUS" = 201 ]
	check "ward-blk serves it from the NBD store" \
		grep -q 'msg="volume attached" volume=vol-1 .*store=nbd' "$W/ctl.log"
	IDN=$(json_get '["id"]' <<<"$BODY" 2>/dev/null)
	[ -n "$IDN" ] && wait_exit "$IDN" >/dev/null
	for _ in $(seq 100); do audited detached "$IDN" && break; sleep 0.1; done
	check "the NBD-backed volume is detached with its key wiped" audited detached "$IDN"
	wv alice detach vol-1 >/dev/null 2>&1
else
	echo "note: nbdkit is not installed; the NBD store is not checked"
fi

# 1c. A backing file outside every --volume-dir stays out of reach.
OUT=$(mktemp -d /tmp/ward-cardpath-out.XXXXXX)
wv alice create --size 16M --kms-key "$KID" --id vol-out --backing "$OUT/vol-out.img" >/dev/null ||
	fail "volume create outside --volume-dir"
req cp POST /v1/instances "$(spec vol-out)"
echo "   $BODY"
if [ "$LANDLOCK" = 1 ]; then
	check "a store outside --volume-dir: refused, 422, saying it cannot be opened" \
		bash -c "[ '$STATUS' = 422 ] && grep -q 'backing store: cannot open backing $OUT/vol-out.img: Permission denied' '$W/body'"
fi
wv alice detach vol-out >/dev/null 2>&1
rm -rf "$OUT"

# 2. Refusals after lockdown, each from the step that makes it.
wv bob attach vol-1 --image blk-check --memory 64 >"$W/bob.out" 2>&1
cat "$W/bob.out"
check "KMS refuses a caller without Decrypt; its reason arrives over curl" \
	grep -q 'step 3 (KMS Decrypt for this host): KMS Decrypt refused: AccessDeniedException' "$W/bob.out"
check "no card left after a refusal" bash -c "! pgrep -P $CTL_PID -x ward-blk >/dev/null"
wv alice detach vol-1 >/dev/null 2>&1
spec vol-1 >"$W/spec-pcr" || fail "spec"
tpm2_pcrextend "12:sha256=$(printf '%064d' 1)" || fail "pcrextend"
req cp POST /v1/instances "$(cat "$W/spec-pcr")"
echo "   $BODY"
check "the TPM refuses the host key after a PCR change: 503 with the reason" \
	bash -c "[ '$STATUS' = 503 ] && grep -q 'step 4 (TPM2_ECDH_ZGen on the host key) refused by the TPM' '$W/body'"
check "no card left after the TPM refusal" bash -c "! pgrep -P $CTL_PID -x ward-blk >/dev/null"
wv alice detach vol-1 >/dev/null 2>&1
check "the controller is still serving" kill -0 "$CTL_PID"
if [ "$LANDLOCK" = 1 ]; then
	check "nothing in the controller log says Landlock refused a path or port" \
		bash -c "! grep -E 'Permission denied|EACCES' '$W/ctl.log'"
fi
stop_ctl
no_key_anywhere "$KEY1" "$S" "$W/ctl.log" "$CP" "$T/server.log" "$W/all-responses" "$W"/*.out "$W"/*.err ||
	fail "key material found"
finish
