#!/usr/bin/env bash
# netcard_test.sh HV_STANDIN: ward-controller drives ward-net
# (src/controller/netcard.c, docs/net.md "Driven by the controller") with
# no /dev/kvm: the dev controller's ward-hv is HV_STANDIN, which asks its
# --net-fd for the backend's features (VHOST_USER_GET_FEATURES) and writes
# the answer to its console. Checked: no card without a VPC; one sandboxed
# ward-net with its own uid once there is one; a group rule added through
# the API reaches the running card (its log); an instance launched with an
# ENI gets a live vhost-user-net socket of ward-net's; the ENI cannot be
# deleted while attached; a change netctl cannot carry waits while an ENI
# is attached; kill -9 of ward-net: noticed, audited, restarted with the
# whole model and the ENI attached again, the old socket dead; a
# controller restart (SIGTERM and kill -9) re-adopts the same card; stop
# detaches; every step audited.
source "$(dirname "$0")/lib.sh"
STANDIN=${1:?hv_standin path}
need
[ -x "$STANDIN" ] || { echo "FAIL: $STANDIN is missing: the build did not produce it"; exit 1; }
[ -x "$B/src/net/ward-net" ] || { echo "FAIL: $B/src/net/ward-net is missing: the build did not produce it"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: ward-net's sandbox (namespaces, uid switch) needs root"; exit 77; }
mkpki
FB=$W/fakeb
mkdir -p "$FB/src/hv" "$FB/src/blk" "$FB/src/net" "$FB/guest"
cp "$STANDIN" "$FB/src/hv/ward-hv"
cp "$B/src/blk/ward-blk" "$FB/src/blk/ward-blk"
cp "$B/src/net/ward-net" "$FB/src/net/ward-net"
cp "$B/guest/hello.elf" "$FB/guest/"
# The underlay: host certificates as provisioning would issue them, the
# card (hostB) with its sockets on loopback. Its peer hostA is never
# started and sorts first, so it is the one that would initiate the key
# exchange: hostB never dials its (unreachable) address.
bash "$SRC/tests/net/tunnel_pki.sh" "$W/hpki" >/dev/null || { echo "FAIL: tunnel_pki.sh"; exit 1; }
# Below the kernel's ephemeral range (32768-60999: a port picked there
# can be any client's), and free now: UDP UPORT and TCP UPORT+1.
UPORT=$(python3 - <<'PY'
import random, socket
def free(kind, p):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(('127.0.0.1', p)); return True
    except OSError:
        return False
    finally:
        s.close()
while True:
    p = random.randrange(20000, 32000)
    if free(socket.SOCK_DGRAM, p) and free(socket.SOCK_STREAM, p + 1):
        print(p); break
PY
)
UL=(--underlay 127.0.0.1 --underlay-port "$UPORT" --keyx-port $((UPORT + 1))
    --host-cert "$W/hpki/hostB.pem" --host-key "$W/hpki/hostB.key" --host-ca "$W/hpki/ca.pem")

cli() { ward_cli cp "$@" >"$W/out" 2>"$W/err"; RC=$?; OUT=$(cat "$W/out"); ERR=$(cat "$W/err"); }
field() { echo "$OUT" | json_get "$1"; }
card_pid() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$S/netcard.json" 2>/dev/null || echo 0; }
is_net() { [ "$1" != 0 ] && grep -q ward-net "/proc/$1/cmdline" 2>/dev/null; }
inst_pid() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$S/instances/$1.json"; }
audited() { grep -c "$1" "$S/audit/leaves"; }
# console ID: the instance's console so far, in $W/con.
console() { NO_RECORD=1 req cp GET "/v1/instances/$1/console?offset=0"; cp "$W/body" "$W/con"; }
# wait_console ID TEXT N: until TEXT is on the console N times (a bound, no timing).
wait_console() {
	for _ in $(seq 400); do
		console "$1"
		[ "$(grep -c "$2" "$W/con")" -ge "$3" ] && return 0
		sleep 0.05
	done
	return 1
}
trap ctl_cleanup EXIT	# it stops ward-net too

start_ctl --dev-images "$FB" "${UL[@]}"
check "no VPC: no ward-net" [ ! -e "$S/netcard.json" -o "$(card_pid)" = 0 ]
cli vpc create --cidr 10.0.0.0/16
VPC=$(field '["id"]')
SGD=$(field '["default_security_group"]')
cli subnet create --vpc "$VPC" --cidr 10.0.1.0/24
SUB=$(field '["id"]')
cli sg create --vpc "$VPC"
SG=$(field '["id"]')
cli eni create --subnet "$SUB" --security-group "$SG"
ENI=$(field '["id"]')
check "model made: $VPC $SUB $SG $ENI" bash -c "[ -n '$ENI' ] && [ '$RC' = 0 ]"
P1=$(card_pid)
check "ward-net runs once the model has a VPC (pid $P1)" is_net "$P1"
U=$(awk '/^Uid:/ {print $2}' "/proc/$P1/status")
check "with a uid of its own, not root ($U)" bash -c "[ '$U' -ge 300000 ]"
check "sandboxed: seccomp filter and no_new_privs" \
	bash -c "grep -q '^Seccomp:[[:space:]]*2' /proc/$P1/status && grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$P1/status"
check "started with its channel, kept end and model fd only" \
	bash -c "tr '\0' ' ' </proc/$P1/cmdline | grep -q -- '--control-fd 3 --keep-fd 4 --config-fd 5'"
check "the new ENI reached it (restarted while idle, audited)" \
	bash -c "[ \$(grep -c '\"event\":\"restarted with a new model\".*\"type\":\"netcard\"' '$S/audit/leaves') -ge 1 ]"

# A live change: a rule added through the API is a netctl SG_SET (type 7).
cli sg authorize "$SG" --ingress --proto tcp --port 80 --cidr 10.0.0.0/16
check "ward sg authorize" [ "$RC" = 0 ]
check "the rule reached the running card (its log: model changed type=7 $SG)" \
	grep -q "model changed.*type=7 id=$SG" "$W/ctl.log"
check "pushed live, not by a restart" [ "$(card_pid)" = "$P1" ]
check "audited as a push" grep -q '"event":"model pushed".*"messages":1' "$S/audit/leaves"

# The underlay: the card got its sockets and certificate; the peer list and
# mapping table go to it over netctl, and it judges them.
check "ward-net started with the underlay sockets (fds 6, 7) as hostB" \
	bash -c "tr '\0' ' ' </proc/$P1/cmdline | grep -q -- '--underlay-fd 6 --keyx-fd 7' && grep -q 'ward-net ready.*underlay=hostB' '$W/ctl.log'"
cli underlay peer hostA 198.18.0.1
check "ward underlay peer: PEER hostA accepted by the card ($ERR)" [ "$RC" = 0 ]
req cp POST /v1/underlay/peers '{"host":"hostB","address":"198.18.0.2"}'
check "this host as its own peer: refused by the card ($BODY)" \
	bash -c "[ '$STATUS' = 409 ] && grep -q refused_by_card '$W/body'"
cli underlay map hostA "$VPC" 100 10.0.1.50
check "ward underlay map: MAP of a hostA address accepted ($ERR)" [ "$RC" = 0 ]
req cp POST /v1/underlay/mappings "{\"host\":\"hostA\",\"vpc\":\"$VPC\",\"vni\":200,\"ip\":\"10.0.1.51\"}"
check "a second VNI for the VPC: refused by the card ($BODY)" [ "$STATUS" = 409 ]
req cp POST /v1/underlay/mappings '{"host":"hostA","vpc":"vpc-x","vni":0,"ip":"10.0.1.52"}'
check "a VNI out of range: 400 before the card" [ "$STATUS" = 400 ]
req op GET /v1/underlay
check "the operator role may not read the underlay" [ "$STATUS" = 403 ]

# An instance with the ENI: its --net-fd is a live vhost-user-net socket.
cli instance run --image hello --memory 16 --eni "$ENI"
check "instance launched with --eni ($ERR)" [ "$RC" = 0 ]
I1=$(field '["id"]')
check "the answer lists the ENI, attached in ward-net" [ "$(field '["enis"][0]["card"]')" = attached ]
check "the stand-in got ward-net's features on its --net-fd" wait_console "$I1" "^net: features=" 1
FEAT=$(grep -m1 '^net: features=' "$W/con" | sed 's/.*=//')
check "VERSION_1, MRG_RXBUF and MAC offered ($FEAT)" \
	python3 -c "import sys; f=int(sys.argv[1],16); sys.exit(0 if f>>32&1 and f>>15&1 and f>>5&1 else 1)" "$FEAT"
check "ward-net logged the ATTACH" grep -q "ENI attached\" eni=$ENI" "$W/ctl.log"
cli eni delete "$ENI"
check "an attached ENI is not deleted: $ERR" bash -c "[ '$RC' != 0 ] && grep -q 'attached to instance $I1' '$W/err'"
cli instance run --image hello --memory 16 --eni "$ENI"
check "nor attached twice: $ERR" bash -c "[ '$RC' != 0 ] && grep -q eni_in_use '$W/err'"

# Live while attached: revoke goes to the same card.
N7=$(grep -c "model changed.*type=7 id=$SG" "$W/ctl.log")
cli sg revoke "$SG" --ingress --proto tcp --port 80 --cidr 10.0.0.0/16
check "a revoke with the ENI attached reaches the card" \
	bash -c "[ \$(grep -c 'model changed.*type=7 id=$SG' '$W/ctl.log') -gt $N7 ] && [ '$(card_pid)' = '$P1' ]"
cli eni set-groups "$ENI" --security-group "$SGD" --security-group "$SG"
check "ENI groups changed live (ENI_SGS, type 12)" grep -q "model changed.*type=12 id=$ENI" "$W/ctl.log"

# A new ENI while one is attached: no netctl message carries it, and
# flows must not be lost, so it waits for an idle card.
cli eni create --subnet "$SUB"
ENI2=$(field '["id"]')
check "new ENI while attached: pending, card kept" \
	bash -c "grep -q '\"event\":\"model pending\"' '$S/audit/leaves' && [ '$(card_pid)' = '$P1' ]"
cli instance run --image hello --memory 16 --eni "$ENI2"
check "launching on it is refused with the reason: $ERR" \
	bash -c "[ '$RC' != 0 ] && grep -q net_model_pending '$W/err'"
cli instance run --image hello --memory 16 --subnet "$SUB" --security-group "$SG"
check "ward instance run --subnet: refused the same way: $ERR" \
	bash -c "[ '$RC' != 0 ] && grep -q net_model_pending '$W/err'"
cli eni list
check "and the ENI it made for the launch is deleted again" \
	[ "$(echo "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["enis"]))')" = 2 ]

# A card dies: kill -9. The controller notices (pidfd), audits, restarts it
# with the whole model and attaches the ENI again.
kill -9 "$P1"
for _ in $(seq 400); do P2=$(card_pid); is_net "$P2" && [ "$P2" != "$P1" ] && break; sleep 0.05; done
check "ward-net restarted after kill -9 (pid $P1 -> $P2)" bash -c "is_net() { grep -q ward-net /proc/\$1/cmdline 2>/dev/null; }; is_net $P2 && [ $P2 != $P1 ]"
check "its death audited" grep -q "\"event\":\"died\",\"how\":\"signal 9\".*\"pid\":$P1" "$S/audit/leaves"
check "restart audited: 1 ENI attached again" grep -q '"enis":1,"event":"restarted",.*"pid":'"$P2"',"reattached":1' "$S/audit/leaves"
check "the new card logged the ATTACH" bash -c "[ \$(grep -c 'ENI attached\" eni=$ENI' '$W/ctl.log') -ge 2 ]"
req cp GET "/v1/instances/$I1"
check "the instance's ENI is attached in the new card" [ "$(echo "$BODY" | json_get '["enis"][0]["card"]')" = attached ]
# The frontend's old socket is dead: ward-hv (here the stand-in) has no
# way to reconnect; docs/net.md says what that means for the guest.
kill -HUP "$(inst_pid "$I1")"
check "the instance's old socket is dead (guest lost the network)" wait_console "$I1" "^net: backend gone" 1
cli instance run --image hello --memory 16 --eni "$ENI2"
check "the restarted card has the whole model: the pending ENI launches ($ERR)" [ "$RC" = 0 ]
check "the new card got the peer and the mapping again (audited)" \
	grep -q '"event":"underlay pushed",.*"messages":2,.*"refused":0' "$S/audit/leaves"
req cp POST /v1/underlay/mappings "{\"host\":\"hostA\",\"vpc\":\"$VPC\",\"vni\":200,\"ip\":\"10.0.1.51\"}"
check "so the new card refuses a second VNI too" [ "$STATUS" = 409 ]
I2=$(field '["id"]')
check "and its socket answers" wait_console "$I2" "^net: features=" 1

# A controller restart re-adopts the same card (SIGTERM, then kill -9).
stop_ctl
check "ward-net outlives the controller" is_net "$P2"
start_ctl --dev-images "$FB" "${UL[@]}"
check "re-adopted after SIGTERM: same pid" [ "$(card_pid)" = "$P2" ]
check "adoption audited" grep -q '"enis":2,"event":"adopted",.*"pid":'"$P2" "$S/audit/leaves"
req cp GET "/v1/instances/$I2"
check "the channel taken back answers QUERY" [ "$(echo "$BODY" | json_get '["enis"][0]["card"]')" = attached ]
kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null; CTL_PID=""
start_ctl --dev-images "$FB" "${UL[@]}"
check "re-adopted after kill -9 of the controller: same pid" [ "$(card_pid)" = "$P2" ]
cli sg authorize "$SG" --ingress --proto udp --port 53 --cidr 10.0.0.0/16
req cp GET /v1/underlay
M=$(echo "$BODY" | json_get '["mappings"][0]["ip"]')
check "the underlay table survived the restarts ($M)" [ "$STATUS/$M" = 200/10.0.1.50 ]
cli underlay peer-remove hostA
M=$(field '["mappings"]')
check "ward underlay peer-remove: PEER_DEL, the peer and its mappings go ($M)" [ "$RC/$M" = "0/[]" ]
check "underlay changes audited" \
	bash -c "[ \$(grep -c '\"event\":\"underlay change\"' '$S/audit/leaves') -ge 5 ]"
check "the re-adopted card takes live changes" \
	bash -c "[ '$RC' = 0 ] && [ \$(grep -c 'model changed.*type=7 id=$SG' '$W/ctl.log') -ge 3 ]"

# An instance that ends while the controller is down: its ENI is detached
# at re-adoption, and only its own (I1 is the first attachment: the
# removal moves I2's entry into its place, which once detached I2 too).
stop_ctl
IP1=$(inst_pid "$I1")
kill -9 "$IP1"
for _ in $(seq 200); do kill -0 "$IP1" 2>/dev/null || break; sleep 0.05; done
start_ctl --dev-images "$FB" "${UL[@]}"
check "an instance that ended meanwhile: its ENI detached at re-adoption" \
	grep -q "\"eni\":\"$ENI\",\"event\":\"detached\",.*\"instance\":\"$I1\",.*\"reason\":\"instance ended while the controller was down\"" "$S/audit/leaves"
check "and only its ENI" bash -c "! grep -q '\"eni\":\"$ENI2\",\"event\":\"detached\"' '$S/audit/leaves'"
req cp GET "/v1/instances/$I2"
check "and the other instance's ENI is still attached" [ "$(echo "$BODY" | json_get '["enis"][0]["card"]')" = attached ]
check "its ENI detached in ward-net" grep -q "ENI detached\" eni=$ENI" "$W/ctl.log"
check "detach audited" grep -q "\"eni\":\"$ENI\",\"event\":\"detached\"" "$S/audit/leaves"
cli eni delete "$ENI"
check "a detached ENI is deleted" [ "$RC" = 0 ]
cli instance stop "$I2"
# Idle now: a new ENI made by `ward instance run --subnet` reaches the card.
cli instance run --image hello --memory 16 --subnet "$SUB" --security-group "$SG"
check "ward instance run --subnet --security-group on an idle card ($ERR)" \
	bash -c "[ '$RC' = 0 ] && [ '$(field '["enis"][0]["card"]')' = attached ]"
I3=$(field '["id"]')
check "its socket answers" wait_console "$I3" "^net: features=" 1
cli instance stop "$I3"
stop_ctl
check "no sanitizer report from ward-net" bash -c "! grep -q Sanitizer '$W/ctl.log'"
finish
