#!/usr/bin/python3
# tests/net: changing a running ward-net's model over netctl (SG_RULE_ADD/
# DEL, SG_SET, ENI_SGS, NACL_SET, SG_DEL), as the controller will. ENIs are
# attached over netctl with their sockets passed in, driven by
# tests/net/net_driver, frames crafted and checked by scapy. Checked: a flow
# refused until a rule is added live; a rule removed mid-flow leaves a
# tracked flow alive and stops an untracked one (AWS: "allow all both ways")
# at once; group membership changed live; refused requests change nothing
# and the channel lives. Nothing waits on time for a verdict: a frame that
# must be dropped goes before a marker on the same ring, and the marker is
# what the receiver must see next.
import ctypes, errno, json, os, signal, socket, struct, subprocess, sys, tempfile

from scapy.all import ICMP, IP, TCP, UDP, Ether, raw

BUILD = os.environ.get("WARD_BUILD_ROOT", "build")
ROUTER_MAC = "02:77:61:72:64:01"
FAILS = []

MAGIC, ATTACH, STATS = 0x54454e57, 1, 3
SG_SET, SG_DEL, RULE_ADD, RULE_DEL, NACL_SET, ENI_SGS, UNMAP, PEER_DEL = range(7, 15)
COUNTERS = ("tx_frames tx_bytes rx_frames rx_bytes arp_replies arp_unanswered arp_ignored dhcp_replies "
            "drop_malformed drop_unsupported drop_spoof_mac drop_spoof_ip drop_no_route drop_to_router "
            "drop_broadcast drop_dhcp drop_filter drop_rx_full drop_oversize drop_bad_header drop_sg "
            "drop_nacl drop_ct_invalid conntrack_allowance_exceeded").split()


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


# c: a client (all out, nothing in); w: a web server, tracked flows (tcp 80
# from the VPC only once a rule says so); o: open to all both ways, so TCP
# and UDP to it are untracked; n: in the second subnet, behind a NACL.
ENIS = [("eni-c", "s1", "02:00:00:00:01:0a", "10.0.1.10", "sg-client"),
        ("eni-w", "s1", "02:00:00:00:01:14", "10.0.1.20", "sg-web"),
        ("eni-o", "s1", "02:00:00:00:01:1e", "10.0.1.30", "sg-open"),
        ("eni-n", "s2", "02:00:00:00:02:0a", "10.0.2.10", "sg-web")]
C, W, O, N = range(4)
MAC = [e[2] for e in ENIS]
IPS = [e[3] for e in ENIS]
ALL_OUT = [{"proto": "all", "cidr": "0.0.0.0/0"}]
ICMP_VPC = {"proto": "icmp", "cidr": "10.0.0.0/16"}
CONFIG = {
    "version": 1,
    "vpcs": [{"id": "vpc-a", "cidr": "10.0.0.0/16"}, {"id": "vpc-b", "cidr": "10.1.0.0/16"}],
    "subnets": [{"id": "s1", "vpc": "vpc-a", "cidr": "10.0.1.0/24"},
                {"id": "s2", "vpc": "vpc-a", "cidr": "10.0.2.0/24"},
                {"id": "sb", "vpc": "vpc-b", "cidr": "10.1.1.0/24"}],
    "security_groups": [
        {"id": "sg-client", "vpc": "vpc-a", "egress": ALL_OUT},
        {"id": "sg-web", "vpc": "vpc-a", "ingress": [ICMP_VPC], "egress": ALL_OUT},
        {"id": "sg-open", "vpc": "vpc-a", "ingress": [{"proto": "all", "cidr": "0.0.0.0/0"}, ICMP_VPC],
         "egress": ALL_OUT},
        {"id": "sg-b", "vpc": "vpc-b", "egress": ALL_OUT},
    ],
    "nacls": [{"id": "acl-s2", "vpc": "vpc-a", "subnets": ["s2"],
               "ingress": [{"rule": 100, "action": "allow", "proto": "all", "cidr": "0.0.0.0/0"}],
               "egress": [{"rule": 100, "action": "allow", "proto": "all", "cidr": "0.0.0.0/0"}]}],
    "enis": [{"id": i, "subnet": s, "mac": m, "ip": a, "security_groups": [g]} for (i, s, m, a, g) in ENIS] +
            [{"id": "eni-b", "subnet": "sb", "mac": "02:00:00:00:0b:0a", "ip": "10.1.1.10",
              "security_groups": ["sg-b"]}],
}


def rule(proto=-1, ports=(0, 65535), icmp=(-1, -1), cidr=None, sg="", number=0, allow=1):
    """netctl's 84-byte rule (docs/formats.md): written here from the format."""
    net, prefix = (cidr or "0.0.0.0/0").split("/") if not sg else ("0.0.0.0", "0")
    return struct.pack("<hHHhhHBBH4s64s", proto, ports[0], ports[1], icmp[0], icmp[1], number, allow,
                       int(prefix), 0, socket.inet_aton(net), sg.encode())


TCP80 = rule(6, (80, 80), cidr="10.0.0.0/16")
ALL_ANY = rule(cidr="0.0.0.0/0")


class Card:
    def __init__(self, tmp):
        cfg = os.path.join(tmp, "vpc.json")
        with open(cfg, "w") as f:
            json.dump(CONFIG, f)
        self.ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.log = os.path.join(tmp, "ward-net.log")
        self.logf = open(self.log, "w")
        # --keep-fd: ward-net holds our end too, so the channel outlives
        # this "controller" (test_readopt).
        self.keep = self.ctl.fileno()
        self.proc = subprocess.Popen([os.path.join(BUILD, "src/net/ward-net"), "--config", cfg,
                                      "--control-fd", str(theirs.fileno()), "--keep-fd", str(self.keep)],
                                     pass_fds=[theirs.fileno(), self.keep], stderr=self.logf)
        theirs.close()
        self.seq = 0
        ends = []
        for e in ENIS:
            d, c = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            st, msg, _ = self.request(ATTACH, e[0].encode().ljust(64, b"\0"), fd=c.fileno())
            check(st == 0, "ATTACH %s: %s" % (e[0], msg))
            c.close()
            ends.append(d)
        self.drv = subprocess.Popen([os.path.join(BUILD, "tests/net/net_driver")] +
                                    ["fd:%d" % x.fileno() for x in ends], pass_fds=[x.fileno() for x in ends],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for x in ends:
            x.close()
        check(self.drv.stdout.readline().strip() == "ready", "driver on the passed sockets")

    def request(self, typ, payload, fd=None):
        self.seq += 1
        pkt = struct.pack("<IHHII", MAGIC, 1, typ, self.seq, len(payload)) + payload
        if fd is None:
            self.ctl.send(pkt)
        else:
            socket.send_fds(self.ctl, [pkt], [fd])
        r = self.ctl.recv(4096)
        magic, _, rtype, seq, _ = struct.unpack_from("<IHHII", r)
        status, = struct.unpack_from("<i", r, 16)
        n, = struct.unpack_from("<I", r, 220)
        assert magic == MAGIC and rtype == 0x81 and seq == self.seq, "bad netctl reply"
        return status, r[20:220].split(b"\0")[0].decode(), dict(zip(COUNTERS, struct.unpack_from("<%dQ" % n, r, 224)))

    def rule_op(self, typ, sg, direction, r):
        return self.request(typ, struct.pack("<64sB3x", sg.encode(), direction) + r)[:2]

    def sg_set(self, sg, vpc, ingress, egress, typ=SG_SET):
        return self.request(typ, struct.pack("<64s64sHH", sg.encode(), vpc.encode(), len(ingress), len(egress)) +
                            b"".join(ingress + egress))[:2]

    def eni_sgs(self, eni, sgs):
        return self.request(ENI_SGS, struct.pack("<64sI", eni.encode(), len(sgs)) +
                            b"".join(g.encode().ljust(64, b"\0") for g in sgs).ljust(5 * 64, b"\0"))[:2]

    def stats(self, eni):
        return self.request(STATS, ENIS[eni][0].encode().ljust(64, b"\0"))[2]

    def cmd(self, line):
        self.drv.stdin.write(line + "\n")
        self.drv.stdin.flush()
        return self.drv.stdout.readline().strip()

    def send(self, eni, pkt):
        check(self.cmd("send %d %s" % (eni, raw(pkt).hex())) == "ok", "send on %s" % ENIS[eni][0])

    def recv(self, eni):
        r = self.cmd("recv %d" % eni).split()
        return Ether(bytes.fromhex(r[2])) if r[0] == "frame" else None

    def close(self):
        self.cmd("quit")
        self.drv.wait()
        self.ctl.close()
        self.proc.send_signal(signal.SIGTERM)   # with --keep-fd, a closed channel is no stop
        rc = self.proc.wait(timeout=60)
        self.logf.close()
        return rc


def l2(a, b):
    same = ENIS[a][1] == ENIS[b][1]
    return Ether(src=MAC[a], dst=MAC[b] if same else ROUTER_MAC) / IP(src=IPS[a], dst=IPS[b])


def tcp(a, b, sport, dport, flags, seq, ack=0, data=b""):
    return l2(a, b) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=65535) / data


def marker(a, b, text):
    return l2(a, b) / ICMP(type=8, id=9, seq=1) / text


def is_marker(p, text):
    return p is not None and p.haslayer(ICMP) and bytes(p[ICMP].payload) == text


def tcp_data(p, data):
    return p is not None and p.haslayer(TCP) and bytes(p[TCP].payload) == data


def handshake(k, srv, sport, dport, what):
    k.send(C, tcp(C, srv, sport, dport, "S", 1000))
    p = k.recv(srv)
    check(p is not None and p.haslayer(TCP) and p[TCP].flags == "S", what + ": SYN arrives")
    k.send(srv, tcp(srv, C, dport, sport, "SA", 5000, 1001))
    p = k.recv(C)
    check(p is not None and p.haslayer(TCP) and p[TCP].flags == "SA", what + ": SYN-ACK comes back")
    k.send(C, tcp(C, srv, sport, dport, "A", 1001, 5001, b"one"))
    check(tcp_data(k.recv(srv), b"one"), what + ": data flows")


def test_rule_added(k):
    k.send(C, tcp(C, W, 40000, 80, "S", 1000))
    k.send(C, marker(C, W, b"m1"))
    check(is_marker(k.recv(W), b"m1"), "before the rule: the SYN to port 80 is dropped (the marker comes first)")
    check(k.stats(W)["drop_sg"] == 1, "and counted on eni-w (drop_sg)")
    check(k.rule_op(RULE_ADD, "sg-web", 0, TCP80) == (0, "ok"), "SG_RULE_ADD sg-web ingress tcp 80 from 10.0.0.0/16")
    st, msg = k.rule_op(RULE_ADD, "sg-web", 0, TCP80)
    check(st == -errno.EEXIST, "the same rule again is refused (-EEXIST): " + msg)
    handshake(k, W, 40001, 80, "after the rule, live")


def test_removed_mid_flow(k):
    handshake(k, O, 40002, 22, "untracked flow to eni-o (open to all both ways)")
    check(k.stats(W)["drop_sg"] == 1, "nothing else dropped so far")
    check(k.rule_op(RULE_DEL, "sg-web", 0, TCP80) == (0, "ok"), "SG_RULE_DEL the tcp 80 rule")
    check(k.rule_op(RULE_DEL, "sg-open", 0, ALL_ANY) == (0, "ok"), "SG_RULE_DEL sg-open's allow-all ingress rule")
    k.send(C, tcp(C, W, 40001, 80, "PA", 1004, 5001, b"two"))
    check(tcp_data(k.recv(W), b"two"), "tracked flow: lives on after its rule is removed")
    k.send(W, tcp(W, C, 80, 40001, "PA", 5001, 1007, b"back"))
    check(tcp_data(k.recv(C), b"back"), "tracked flow: and its replies")
    k.send(C, tcp(C, W, 40003, 80, "S", 3000))
    k.send(C, marker(C, W, b"m2"))
    check(is_marker(k.recv(W), b"m2"), "a new flow to port 80 is refused")
    k.send(C, tcp(C, O, 40002, 22, "PA", 1004, 5001, b"two"))
    k.send(C, marker(C, O, b"m3"))
    check(is_marker(k.recv(O), b"m3"), "untracked flow: stops at once when the rule goes")
    check(k.stats(W)["drop_sg"] == 2 and k.stats(O)["drop_sg"] == 1,
          "drops counted: the new flow on eni-w, the untracked segment on eni-o")


def test_membership(k):
    dns = lambda a, b: l2(a, b) / UDP(sport=5353, dport=53) / b"q"
    k.send(C, dns(C, W))
    k.send(C, marker(C, W, b"m4"))
    check(is_marker(k.recv(W), b"m4"), "UDP 53 to eni-w refused before")
    # A new group whose members may reach each other on udp 53 (a rule
    # naming the group itself), then both ENIs join it.
    check(k.sg_set("sg-dns", "vpc-a", [rule(17, (53, 53), sg="sg-dns")], [rule(cidr="0.0.0.0/0")]) == (0, "ok"),
          "SG_SET creates sg-dns (ingress udp 53 from its own members)")
    check(k.eni_sgs("eni-w", ["sg-web", "sg-dns"]) == (0, "ok"), "ENI_SGS: eni-w joins sg-dns")
    k.send(C, dns(C, W))
    k.send(C, marker(C, W, b"m5"))
    check(is_marker(k.recv(W), b"m5"), "eni-c is not a member yet: still refused")
    check(k.eni_sgs("eni-c", ["sg-client", "sg-dns"]) == (0, "ok"), "ENI_SGS: eni-c joins sg-dns")
    k.send(C, dns(C, W))
    p = k.recv(W)
    check(p is not None and p.haslayer(UDP) and p[UDP].dport == 53, "now a member: UDP 53 arrives")
    st, msg = k.request(SG_DEL, b"sg-dns".ljust(64, b"\0"))[:2]
    check(st == -errno.EBUSY, "SG_DEL of a group ENIs use is refused: " + msg)
    # Replacing the group's rules: udp 53 no longer allowed from members.
    check(k.sg_set("sg-dns", "vpc-a", [], [rule(cidr="0.0.0.0/0")]) == (0, "ok"), "SG_SET replaces sg-dns's rules")
    k.send(C, l2(C, W) / UDP(sport=5354, dport=53) / b"q")
    k.send(C, marker(C, W, b"m6"))
    check(is_marker(k.recv(W), b"m6"), "after the replacement a new UDP 53 flow is refused")
    # sg-mon is created after sg-dns, so deleting sg-dns moves it into the
    # freed slot: its members and its rule naming itself must follow.
    check(k.sg_set("sg-mon", "vpc-a", [rule(17, (161, 161), sg="sg-mon")], []) == (0, "ok"), "SG_SET creates sg-mon")
    check(k.eni_sgs("eni-w", ["sg-web", "sg-mon"]) == (0, "ok") and k.eni_sgs("eni-c", ["sg-client", "sg-mon"]) == (0, "ok"),
          "both leave sg-dns and join sg-mon")
    check(k.request(SG_DEL, b"sg-dns".ljust(64, b"\0"))[:2] == (0, "ok"), "SG_DEL of an unused group")
    check(k.stats(W)["drop_sg"] == 5, "eni-w counted every refusal (5)")
    k.send(C, l2(C, W) / UDP(sport=5355, dport=161) / b"get")
    p = k.recv(W)
    check(p is not None and p.haslayer(UDP) and p[UDP].dport == 161,
          "after SG_DEL moved sg-mon into the freed slot, its members and self-rule still work")
    check(k.eni_sgs("eni-w", ["sg-web"]) == (0, "ok") and k.eni_sgs("eni-c", ["sg-client"]) == (0, "ok") and
          k.request(SG_DEL, b"sg-mon".ljust(64, b"\0"))[:2] == (0, "ok"), "leave and delete sg-mon")


def test_nacl(k):
    k.send(C, marker(C, N, b"n1"))
    check(is_marker(k.recv(N), b"n1"), "ping to the second subnet passes its NACL")
    deny_icmp = rule(1, cidr="10.0.1.0/24", number=90, allow=0)
    allow_all = rule(cidr="0.0.0.0/0", number=100)
    check(k.sg_set("acl-s2", "vpc-a", [deny_icmp, allow_all], [allow_all], typ=NACL_SET) == (0, "ok"),
          "NACL_SET: rule 90 denies ICMP from s1")
    k.send(C, marker(C, N, b"n2"))
    k.send(C, marker(C, W, b"n3"))
    check(is_marker(k.recv(W), b"n3") and k.stats(N)["drop_nacl"] == 1,
          "the ping is dropped by the new NACL rule (drop_nacl)")
    st, msg = k.sg_set("acl-s2", "vpc-a", [allow_all, allow_all], [], typ=NACL_SET)
    check(st == -errno.EINVAL and "twice" in msg, "NACL_SET with a number twice is refused: " + msg)


def test_refusals(k):
    for what, (st, msg), want in [
            ("a rule naming an unknown group", k.rule_op(RULE_ADD, "sg-web", 0, rule(sg="sg-nope")), -errno.ENOENT),
            ("a rule naming another VPC's group", k.rule_op(RULE_ADD, "sg-web", 0, rule(sg="sg-b")), -errno.ENOENT),
            ("removing a rule the group does not have", k.rule_op(RULE_DEL, "sg-web", 1, TCP80), -errno.ENOENT),
            ("a rule for an unknown group", k.rule_op(RULE_ADD, "sg-nope", 0, TCP80), -errno.ENOENT),
            ("a CIDR with host bits", k.rule_op(RULE_ADD, "sg-web", 0, rule(cidr="10.0.1.5/24")), -errno.EPROTO),
            ("ports on ICMP", k.rule_op(RULE_ADD, "sg-web", 0, rule(1, (1, 2), cidr="0.0.0.0/0")), -errno.EPROTO),
            ("an ENI joining another VPC's group", k.eni_sgs("eni-c", ["sg-b"]), -errno.ENOENT),
            ("ENI_SGS with no group", k.eni_sgs("eni-c", []), -errno.EPROTO),
            ("UNMAP on a card without an underlay",
             k.request(UNMAP, struct.pack("<64s64sI4s", b"h", b"vpc-a", 5, socket.inet_aton("10.0.1.10")))[:2],
             -errno.ENOTCONN),
            ("PEER_DEL on a card without an underlay", k.request(PEER_DEL, b"h".ljust(64, b"\0"))[:2],
             -errno.ENOTCONN)]:
        check(st == want, "refused: %s (%d %s)" % (what, st, msg))
    # Nothing of that changed the model: eni-w still refuses port 80.
    k.send(C, tcp(C, W, 40009, 80, "S", 1))
    k.send(C, marker(C, W, b"m7"))
    check(is_marker(k.recv(W), b"m7"), "the refused requests changed nothing")


def test_readopt(k):
    """The controller restarts: its end of the channel goes with it, ward-net
    keeps serving, and the next controller takes the channel back from
    ward-net's --keep-fd with pidfd_getfd, as ward-controller re-adopts
    ward-blk (docs/controller.md)."""
    k.ctl.close()
    pidfd = os.pidfd_open(k.proc.pid)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(438, pidfd, k.keep, 0)   # pidfd_getfd
    os.close(pidfd)
    check(fd >= 0, "a new controller takes the channel from ward-net's --keep-fd (errno %d)" % ctypes.get_errno())
    if fd < 0:
        return
    k.ctl = socket.socket(fileno=fd)
    st, msg, c = k.request(STATS, b"eni-w".ljust(64, b"\0"))
    check(st == 0 and c["drop_sg"] == 6, "STATS over the re-adopted channel: the counters went on (%s)" % msg)
    check(k.rule_op(RULE_ADD, "sg-web", 0, TCP80) == (0, "ok"), "a model change over the re-adopted channel")
    k.send(C, tcp(C, W, 40010, 80, "S", 1))
    p = k.recv(W)
    check(p is not None and p.haslayer(TCP) and p[TCP].dport == 80, "and the frames it governs")


def main():
    with tempfile.TemporaryDirectory(prefix="ward-net-live-") as tmp:
        k = Card(tmp)
        try:
            test_rule_added(k)
            test_removed_mid_flow(k)
            test_membership(k)
            test_nacl(k)
            test_refusals(k)
            test_readopt(k)
        finally:
            rc = k.close()
            log = open(k.log).read()
        check(rc == 0, "ward-net stops cleanly on SIGTERM")
        check(log.count('msg="model changed"') == 16 and "sandbox=on" in log, "each change logged; ran sandboxed")
        if FAILS:
            print(log)
    if FAILS:
        print("%d checks failed" % len(FAILS))
        sys.exit(1)


if __name__ == "__main__":
    main()
