#!/usr/bin/env bash
# tunnel_netns.sh TUNNEL_NODE: two hosts' underlays in two network namespaces
# joined by a veth (198.18.0.0/24, RFC 2544 benchmark space, only inside the
# namespaces made here). Host A runs two TLS 1.3 key exchanges with host B
# and sends marked frames under each epoch; B echoes them. tcpdump captures
# B's veth; tshark must decode every packet as Geneve with our VNI and
# critical option, and the marker must appear nowhere in the capture. Then a
# sender independent of ward (python) sends an altered and a replayed packet:
# B drops and counts both. Frames whose inner source A's host does not own
# are refused by B's receive check. A last pass in debug
# plaintext mode shows that the same capture does expose the marker, so the
# "nowhere" check above can fail.
set -euo pipefail
node=${1:?usage: tunnel_netns.sh TUNNEL_NODE}
K=20              # frames per epoch
VNI=0xabcd
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "not root: network namespaces need CAP_SYS_ADMIN"
for p in ip tcpdump tshark; do
	command -v "$p" >/dev/null || { echo "FAIL: $p missing (scripts/deps.sh installs it)"; exit 1; }
done

d=$(mktemp -d)
nsa="ward-tun-$$-a" nsb="ward-tun-$$-b"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$nsa" 2>/dev/null || true
	ip netns del "$nsb" 2>/dev/null || true
	rm -rf "$d"
}
trap cleanup EXIT
ip netns add "$nsa" 2>/dev/null || skip "no network namespaces (ip netns add failed)"
ip netns add "$nsb"
ip link add "wt$$a" type veth peer name "wt$$b" 2>/dev/null || skip "no veth support (ip link add type veth failed)"
ip link set "wt$$a" netns "$nsa" name va
ip link set "wt$$b" netns "$nsb" name vb
ip -n "$nsa" addr add 198.18.0.1/24 dev va
ip -n "$nsb" addr add 198.18.0.2/24 dev vb
for n in "$nsa" "$nsb"; do ip -n "$n" link set lo up; done
ip -n "$nsa" link set va up
ip -n "$nsb" link set vb up

"$(dirname "$0")/tunnel_pki.sh" "$d/pki"
common=(--vni "$VNI" --ca "$d/pki/ca.pem")
a_args=(--id hostA --cert "$d/pki/hostA.pem" --key "$d/pki/hostA.key" --local 198.18.0.1
	--peer-id hostB --peer 198.18.0.2 --my-ip 10.0.0.1 --peer-ip 10.0.0.2 "${common[@]}")
b_args=(--id hostB --cert "$d/pki/hostB.pem" --key "$d/pki/hostB.key" --local 198.18.0.2
	--peer-id hostA --peer 198.18.0.1 --my-ip 10.0.0.2 --peer-ip 10.0.0.1 "${common[@]}")

wait_for() { # file pattern pid: until the pattern shows (readiness, not a delay)
	while ! grep -q "$2" "$1" 2>/dev/null; do
		kill -0 "$3" 2>/dev/null || { echo "FAIL: process for $1 exited:"; cat "$1"; exit 1; }
		sleep 0.05
	done
}
val() { sed -n "s/^$2=//p" "$1"; }
expect_eq() { # what got want
	if [ "$2" != "$3" ]; then echo "FAIL: $1 = '$2', expected '$3'"; exit 1; fi
	echo "ok: $1 = $2"
}

# Pass 1, encrypted. On B's veth: 2 epochs x K each way, S spoofed, the 3
# injected and the echo of the genuine one.
S=3               # frames with an inner source no host owns
npk=$((4 * K + 4 + S))
ip netns exec "$nsb" tcpdump -i vb -U -n -w "$d/cap.pcap" -c "$npk" 'udp port 6081' 2>"$d/tcpdump.err" &
tpid=$!; pids+=("$tpid")
wait_for "$d/tcpdump.err" "listening on" "$tpid"
ip netns exec "$nsb" "$node" --role responder "${b_args[@]}" --expect $((2 * K + 3 + S)) \
	>"$d/b.out" 2>"$d/b.err" &
bpid=$!; pids+=("$bpid")
wait_for "$d/b.out" "^ready" "$bpid"
ip netns exec "$nsa" "$node" --role initiator "${a_args[@]}" --count "$K" --epochs 2 --spoof "$S" \
	--hold "$d/held.pkt" >"$d/a.out" 2>"$d/a.err" || { cat "$d/a.err"; exit 1; }
expect_eq "A: echoes authenticated" "$(val "$d/a.out" echoes)" $((2 * K))
expect_eq "A: epoch after rotation" "$(val "$d/a.out" epoch)" 2

# A's held-back packet, sent by python from A's underlay address (so only
# the crypto can refuse it): first with one ciphertext bit flipped, then
# genuine (accepted: the altered copy did not burn its sequence number),
# then again (a replay).
ip netns exec "$nsa" python3 - "$d/held.pkt" <<'PY'
import socket, sys
pkt = open(sys.argv[1], 'rb').read()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('198.18.0.1', 0))
bad = bytearray(pkt); bad[40] ^= 0x01
for p in (bytes(bad), pkt, pkt):
    s.sendto(p, ('198.18.0.2', 6081))
PY
wait "$bpid" || { cat "$d/b.err"; exit 1; }
wait "$tpid"
expect_eq "B: frames accepted" "$(val "$d/b.out" rx_ok)" $((2 * K + 1))
expect_eq "B: replay dropped and counted" "$(val "$d/b.out" rx_replay)" 1
expect_eq "B: altered packet dropped and counted" "$(val "$d/b.out" rx_auth_fail)" 1
expect_eq "B: inner source not owned by the sender, dropped and counted" "$(val "$d/b.out" rx_spoofed)" "$S"

# The wire: every captured packet is Geneve, our VNI, our critical option.
expect_eq "packets captured" "$(tshark -r "$d/cap.pcap" 2>/dev/null | wc -l)" "$npk"
expect_eq "decoded as Geneve" "$(tshark -r "$d/cap.pcap" -Y geneve 2>/dev/null | wc -l)" "$npk"
expect_eq "Geneve VNIs" "$(tshark -r "$d/cap.pcap" -Y geneve -T fields -e geneve.vni 2>/dev/null | sort -u | tr '\n' ' ')" "$(printf '0x%06x ' "$VNI")"
expect_eq "option class/type" "$(tshark -r "$d/cap.pcap" -Y geneve -T fields -e geneve.option.class -e geneve.option.type 2>/dev/null | sort -u | tr '\t\n' ', ')" "0xfff0,0xd7 "
expect_eq "critical flag" "$(tshark -r "$d/cap.pcap" -Y 'geneve.flags.critical == 1' 2>/dev/null | wc -l)" "$npk"
expect_eq "inner frames tshark could parse (none: ciphertext)" "$(tshark -r "$d/cap.pcap" -Y 'geneve && (ip.addr == 10.0.0.1 || ip.addr == 10.0.0.2)' 2>/dev/null | wc -l)" 0
expect_eq "marker in the capture" "$(grep -c -a WARD-INNER-PLAINTEXT-MARKER "$d/cap.pcap" || true)" 0

# Pass 2, debug plaintext (the flag on both ends): the marker does show.
ip netns exec "$nsb" tcpdump -i vb -U -n -w "$d/plain.pcap" -c 4 'udp port 6081' 2>"$d/tcpdump2.err" &
tpid=$!; pids+=("$tpid")
wait_for "$d/tcpdump2.err" "listening on" "$tpid"
ip netns exec "$nsb" "$node" --role responder "${b_args[@]}" --debug-plaintext --expect 2 \
	>"$d/b2.out" 2>"$d/b2.err" &
bpid=$!; pids+=("$bpid")
wait_for "$d/b2.out" "^ready" "$bpid"
ip netns exec "$nsa" "$node" --role initiator "${a_args[@]}" --debug-plaintext --count 2 \
	>"$d/a2.out" 2>"$d/a2.err" || { cat "$d/a2.err"; exit 1; }
wait "$bpid"
wait "$tpid"
expect_eq "plaintext pass: echoes" "$(val "$d/a2.out" echoes)" 2
[ "$(grep -c -a WARD-INNER-PLAINTEXT-MARKER "$d/plain.pcap")" -gt 0 ] ||
	{ echo "FAIL: the marker check cannot see a plaintext marker"; exit 1; }
expect_eq "plaintext pass: inner IPv4 decoded by tshark" \
	"$(tshark -r "$d/plain.pcap" -Y 'geneve && ip.src == 10.0.0.1' 2>/dev/null | wc -l)" 2
echo "PASS"
