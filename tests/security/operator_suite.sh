#!/usr/bin/env bash
# operator_suite.sh: ARCHITECTURE §5 from the operator's chair. With a
# running `spin` instance and a `hello` instance that printed its banner,
# the holder of the operator certificate calls every CLI command and every
# route of routes.c, then looks at the state dir, the log and the process
# table: the guests' console banners (the canaries) must show up nowhere,
# nothing but the API listens, and ward-hv cannot be read or traced.
# Run under tests/tpm/swtpm-env.sh (a private swtpm); needs root and KVM.
source "$(dirname "$0")/../controller/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: acting as the operator uid and ward-hv's sandbox need root"; exit 77; }
need
need_kvm
command -v setpriv >/dev/null && command -v ss >/dev/null ||
	{ echo "SKIP: setpriv or ss missing"; exit 77; }
mkpki
CANARY='hello from guest|spin: running'

# The canaries are real: both guests print them when their console is ours.
"$B/src/hv/ward-hv" --kernel "$B/guest/hello.elf" --memory 16 >"$W/hello.direct" 2>&1
timeout 5 "$B/src/hv/ward-hv" --kernel "$B/guest/spin.elf" --memory 16 >"$W/spin.direct" 2>&1
check "hello prints its banner (the canary can fire)" grep -q "hello from guest" "$W/hello.direct"
check "spin prints its banner (the canary can fire)" grep -q "spin: running" "$W/spin.direct"

start_ctl
req cp POST /v1/instances '{"image":"hello","memory_mib":16}'
hid=$(echo "$BODY" | json_get '["id"]')
for _ in $(seq 100); do req cp GET "/v1/instances/$hid"; grep -q exited "$W/body" && break; sleep 0.1; done
check "hello ran to its end (exit 0: banner printed)" grep -q '"exit_code":0' "$W/body"
req cp POST /v1/instances '{"image":"spin","memory_mib":16}'
check "spin launched" [ "$STATUS" = 201 ]
sid=$(echo "$BODY" | json_get '["id"]')
spid=$(echo "$BODY" | json_get '["pid"]')
suid=$(echo "$BODY" | json_get '["uid"]')
sleep 1
check "spin is running" grep -q '^State:' "/proc/$spid/status"
: >"$W/all-responses"

# 1. Every operator CLI command (drain last: it changes the host state).
op_cli() { echo "== ward $*" >>"$W/op-cli"; ward_cli op "$@" >>"$W/op-cli" 2>&1; echo "rc=$?" >>"$W/op-cli"; }
op_cli health
op_cli instance list
op_cli host
op_cli audit checkpoint
op_cli audit fetch --out "$W/export"
op_cli audit verify "$W/export" --pubkey "$S/keys/audit-sign.pub.pem"
check "ward audit verify works for the operator" grep -q "^rc=0" <(sed -n '/== ward audit verify/,/^rc=/p' "$W/op-cli")
check "ward host is refused to the operator (control-plane only)" \
	bash -c "sed -n '/== ward host/,/^rc=/p' '$W/op-cli' | grep -q 'HTTP 403'"

# 2. Every route of the table, as the operator, on the live instances.
route_table >"$W/routes"
check "route table parsed ($(wc -l <"$W/routes") routes)" [ "$(wc -l <"$W/routes")" -ge 13 ]
grep -v ' /v1/drain ' "$W/routes" >"$W/walk"
grep ' /v1/drain ' "$W/routes" >>"$W/walk"
: >"$W/sizes"
while read -r method pattern roles; do
	for id in "$sid" "$hid"; do
		path=${pattern//\{id\}/$id}
		path=${path//\{vid\}/vol-1}
		body=""
		[ "$method" = POST ] && body='{}'
		for q in "" "?from=0" "?index=0&size=1"; do
			req op "$method" "$path$q" "$body"
			echo "$STATUS $(stat -c %s "$W/body") $method $path$q" >>"$W/sizes"
		done
	done
done <"$W/walk"
op_cli drain
ok "walked $(wc -l <"$W/sizes") operator requests"
check "spin still runs after the operator's walk" grep -q '^State:' "/proc/$spid/status"
check "no operator request was answered with more than 256 KiB" \
	awk '$2 > 262144 {print; bad=1} END {exit bad}' "$W/sizes"
check "no operator CLI output or API response contains a console banner" \
	bash -c "! grep -aEq '$CANARY' '$W/op-cli' '$W/all-responses'"
check "no operator response carries a long base64 blob (guest RAM, volume data)" \
	bash -c "! grep -aEq '[A-Za-z0-9+/]{512,}' '$W/op-cli' '$W/all-responses'"
check "no operator response carries private key material" \
	bash -c "! grep -aq 'PRIVATE KEY' '$W/op-cli' '$W/all-responses'"

# 3. The controller's files and log.
check "no file under the state dir contains a console banner" \
	bash -c "! grep -raEq '$CANARY' '$S'"
check "the controller log contains no console banner" bash -c "! grep -aEq '$CANARY' '$W/ctl.log'"

# 4. The process table: this test's processes are the controller and what
# it started; only the API port listens, and ward-hv is sealed.
descendants() {
	local p=$1 c
	echo "$p"
	for c in $(ps -o pid= --ppid "$p"); do descendants "$c"; done
}
mine=" $(descendants "$CTL_PID" | tr '\n' ' ') "
ss -Hlntpu >"$W/ss"
awk '{print $5, $7}' "$W/ss" | while read -r addr users; do
	for pid in $(echo "$users" | grep -o 'pid=[0-9]*' | cut -d= -f2); do
		[[ "$mine" == *" $pid "* ]] && echo "$addr $pid"
	done
done | sort -u >"$W/listen"
check "the controller's API port is seen listening (the check can fail)" grep -q ":$PORT " "$W/listen"
check "nothing but the API port listens among the controller and its children" \
	bash -c "! grep -v ':$PORT ' '$W/listen'"
# Other tests' controllers may be listening on their own API ports; no
# VMM or card, of any test, may listen at all.
check "no ward-hv or ward-blk anywhere listens on any port" \
	bash -c "! grep -E 'ward-(hv|blk)' '$W/ss'"
check "ward-hv runs under the instance's own uid ($suid), not root" \
	grep -qE "^Uid:\s+$suid\s+$suid\s+$suid\s+$suid" "/proc/$spid/status"
check "ward-hv is not dumpable (its /proc files belong to root)" \
	[ "$(stat -c %u "/proc/$spid/environ")" = 0 ]
as_op() { setpriv --reuid 5000 --regid 5000 --clear-groups "$@"; }
check "the operator uid cannot read ward-hv's /proc/PID/mem" \
	bash -c "! setpriv --reuid 5000 --regid 5000 --clear-groups cat /proc/$spid/mem >/dev/null 2>&1"
check "the operator uid cannot read ward-hv's /proc/PID/environ" \
	bash -c "! setpriv --reuid 5000 --regid 5000 --clear-groups cat /proc/$spid/environ >/dev/null 2>&1"
check "the operator uid can neither ptrace-attach nor process_vm_readv ward-hv" \
	as_op /usr/bin/python3 - "$spid" <"$SRC/tests/security/peek.py"
check "spin survived every attempt" grep -q '^State:' "/proc/$spid/status"
stop_ctl
finish
