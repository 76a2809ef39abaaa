#!/usr/bin/python3
# tests/net: real guests on two hosts. Each host is a network namespace made
# here (veth, 198.18.0.0/24, only inside them) with its own ward-net, its
# own host certificate (tunnel_pki.sh) and its underlay sockets passed in;
# PEER and MAP arrive over netctl. QEMU guests (the guest kit's net-check,
# KVM or TCG as in qemu_test.py) sit on the ENI sockets. Checked:
#  - a guest on host A and a guest on host B, in two subnets of one VPC,
#    get their leases, ping each other through the router across hosts, and
#    move 256 KiB each way over TCP at MTU 9001 (8961-byte segments: each
#    sealed frame is larger than the 1500-byte underlay), byte for byte;
#  - a guest of another VPC on host A, with the client's very address, gets
#    no reply from B's guest (dropped on A: drop_no_route);
#  - every datagram B received authenticated (tunnel counters).
# The guests retry (ARP, ping every second, TCP's RTO) until the cards'
# TLS 1.3 key exchange has run: no wait here decides a verdict.
import json, os, re, signal, socket, struct, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu_test as q  # noqa: E402  (Guest, check, ACCEL)

BUILD = q.BUILD
SRC = os.environ.get("WARD_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "../.."))
KEYX_PORT = 6082
NETCTL_MAGIC, STATS, PEER, MAP = 0x54454e57, 3, 5, 6
UNDERLAY = {"hostA": "198.18.0.1", "hostB": "198.18.0.2"}
VNI = {"vpc-a": 100, "vpc-x": 200}
ALL_OUT = [{"proto": "all", "cidr": "0.0.0.0/0"}]
# key: (id, subnet, vpc, mac, ip, host)
ENIS = {"a": ("eni-a", "a1", "vpc-a", "02:00:00:00:01:0a", "10.0.1.10", "hostA"),
        "b": ("eni-b", "a2", "vpc-a", "02:00:00:00:02:14", "10.0.2.20", "hostB"),
        "x": ("eni-x", "x1", "vpc-x", "02:00:00:00:0b:0a", "10.0.1.10", "hostA")}
CONFIG = {
    "version": 1,
    "vpcs": [{"id": "vpc-a", "cidr": "10.0.0.0/16"}, {"id": "vpc-x", "cidr": "10.0.0.0/16"}],
    "subnets": [{"id": "a1", "vpc": "vpc-a", "cidr": "10.0.1.0/24"},
                {"id": "a2", "vpc": "vpc-a", "cidr": "10.0.2.0/24"},
                {"id": "x1", "vpc": "vpc-x", "cidr": "10.0.1.0/24"}],
    "security_groups": [
        {"id": "sg-a", "vpc": "vpc-a", "ingress": [{"proto": "all", "cidr": "10.0.0.0/16"}], "egress": ALL_OUT},
        {"id": "sg-x", "vpc": "vpc-x", "ingress": [{"proto": "all", "cidr": "0.0.0.0/0"}], "egress": ALL_OUT},
    ],
    "enis": [{"id": i, "subnet": s, "mac": m, "ip": a, "security_groups": ["sg-a" if v == "vpc-a" else "sg-x"]}
             for (i, s, v, m, a, h) in ENIS.values()],
}
check = q.check

import ctypes  # noqa: E402
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def in_netns(ns, fn):
    """fn() with this thread in namespace ns; its sockets stay there."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns")
        return fn()
    finally:
        libc.setns(own, CLONE_NEWNET)
        os.close(fd)
        os.close(own)


def underlay_sockets(addr):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, 6081))
    k = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    k.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    k.bind((addr, KEYX_PORT))
    k.listen(4)
    return u, k


class Host:
    """One host's ward-net, ENIs on unix sockets for QEMU."""

    def __init__(self, tmp, name, ns):
        self.name, self.tmp = name, tmp
        cfg = os.path.join(tmp, name + "-vpc.json")
        with open(cfg, "w") as f:
            json.dump(CONFIG, f)
        self.ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        udp, kx = in_netns(ns, lambda: underlay_sockets(UNDERLAY[name]))
        self.sock = {k: os.path.join(tmp, "%s-%s.sock" % (name, e[0])) for k, e in ENIS.items() if e[5] == name}
        pki = os.path.join(tmp, "pki")
        args = ["ip", "netns", "exec", ns, os.path.join(BUILD, "src/net/ward-net"), "--config", cfg,
                "--control-fd", str(theirs.fileno()), "--underlay-fd", str(udp.fileno()),
                "--keyx-fd", str(kx.fileno()), "--keyx-port", str(KEYX_PORT),
                "--host-cert", os.path.join(pki, name + ".pem"), "--host-key", os.path.join(pki, name + ".key"),
                "--ca", os.path.join(pki, "ca.pem")]
        for k, s in self.sock.items():
            args += ["--eni", "%s=%s" % (ENIS[k][0], s)]
        self.log = os.path.join(tmp, name + ".log")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stderr=self.logf, pass_fds=(theirs.fileno(), udp.fileno(), kx.fileno()))
        for s in (theirs, udp, kx):
            s.close()
        self.seq = 0
        self.ndump = 0
        for _ in range(1200):   # hang guard: "ready" once every socket is bound
            if "ward-net ready" in open(self.log).read():
                break
            if self.proc.poll() is not None:
                sys.exit("%s: ward-net exited: %s" % (name, open(self.log).read()))
            time.sleep(0.05)

    def request(self, mtype, payload):
        self.seq += 1
        self.ctl.send(struct.pack("<IHHII", NETCTL_MAGIC, 1, mtype, self.seq, len(payload)) + payload)
        r = self.ctl.recv(4096)
        magic, _, rtype, seq, _, status = struct.unpack_from("<IHHIIi", r)
        assert magic == NETCTL_MAGIC and rtype == 0x81 and seq == self.seq, "bad netctl reply"
        return status, r[20:220].split(b"\0")[0].decode(), r

    def stats(self, k):
        r = self.request(STATS, ENIS[k][0].encode().ljust(64, b"\0"))[2]
        n, = struct.unpack_from("<I", r, 220)
        return dict(zip(q.COUNTERS, struct.unpack_from("<%dQ" % n, r, 224)))

    def underlay(self):
        """The card's underlay counters (SIGUSR1's "underlay counters" line)."""
        self.ndump += 1
        self.proc.send_signal(signal.SIGUSR1)
        for _ in range(600):   # hang guard
            lines = [l for l in open(self.log) if 'msg="underlay counters"' in l]
            if len(lines) >= self.ndump:
                return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)\b", lines[self.ndump - 1])}
            time.sleep(0.05)
        return {}

    def close(self):
        self.ctl.close()
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.logf.close()
        return rc


def main():
    if os.geteuid() != 0:
        print("SKIP: not root: network namespaces need CAP_SYS_ADMIN")
        sys.exit(77)
    if subprocess.run(["sh", "-c", "command -v qemu-system-x86_64"], stdout=subprocess.DEVNULL).returncode:
        print("SKIP: qemu-system-x86_64 is not installed")
        sys.exit(77)
    print("accelerator: " + ("kvm" if q.ACCEL[0] == "-enable-kvm" else "tcg (no usable /dev/kvm)"), flush=True)
    nsa, nsb = "ward-qx-%d-a" % os.getpid(), "ward-qx-%d-b" % os.getpid()
    va, vb = "wq%da" % os.getpid(), "wq%db" % os.getpid()
    hosts, guests = [], []
    with tempfile.TemporaryDirectory(prefix="ward-net-qxhost-") as tmp:
        os.chmod(tmp, 0o755)
        try:
            if subprocess.run(["ip", "netns", "add", nsa], capture_output=True).returncode:
                print("SKIP: no network namespaces (ip netns add failed)")
                sys.exit(77)
            subprocess.run(["ip", "netns", "add", nsb], check=True)
            if subprocess.run(["ip", "link", "add", va, "type", "veth", "peer", "name", vb],
                              capture_output=True).returncode:
                print("SKIP: no veth support (ip link add type veth failed)")
                sys.exit(77)
            for ns, dev, name, addr in ((nsa, va, "va", "198.18.0.1/24"), (nsb, vb, "vb", "198.18.0.2/24")):
                for c in (["link", "set", dev, "netns", ns, "name", name], ["-n", ns, "addr", "add", addr, "dev", name],
                          ["-n", ns, "link", "set", "lo", "up"], ["-n", ns, "link", "set", name, "up"]):
                    subprocess.run(["ip"] + c, check=True)
            subprocess.run(["bash", os.path.join(SRC, "tests/net/tunnel_pki.sh"), os.path.join(tmp, "pki")],
                           check=True)
            a, b = Host(tmp, "hostA", nsa), Host(tmp, "hostB", nsb)
            hosts = [a, b]
            for h, other in ((a, "hostB"), (b, "hostA")):
                st, msg, _ = h.request(PEER, struct.pack("<64s4s", other.encode(), socket.inet_aton(UNDERLAY[other])))
                check(st == 0, "%s: PEER %s: %s" % (h.name, other, msg))
                for (i, s, v, m, addr, owner) in ENIS.values():
                    st, msg, _ = h.request(MAP, struct.pack("<64s64sI4s", owner.encode(), v.encode(), VNI[v],
                                                            socket.inet_aton(addr)))
                    check(st == 0, "%s: MAP %s/%s -> %s: %s" % (h.name, v, addr, owner, msg))

            srv = q.Guest(b, "b", "server-hostB", "mode=server port=7 conns=1 secs=150 want_ip=10.0.2.20 "
                          "want_dns=10.0.0.2 want_mtu=9001", timeout=170, mac=ENIS["b"][3])
            guests.append(srv)
            check(srv.wait_line("net-check: server: listening on 10.0.2.20:7"),
                  "host B's guest: DHCP lease from B's card, listening")
            cl = q.Guest(a, "a", "client-hostA", "mode=client peer=10.0.2.20 ping=4 ping_size=8000 tcp=262144 "
                         "port=7 secs=60 want_ip=10.0.1.10 want_dns=10.0.0.2 want_mtu=9001", timeout=80, mac=ENIS["a"][3]).run()
            check(cl == 0, "host A's guest reaches host B's guest across hosts and subnets: 8000-byte pings "
                  "answered, TCP 256 KiB each way at MTU 9001 checked and closed (exit %s)" % cl)
            s_rc = srv.finish()
            guests = []
            check(s_rc == 0, "host B's guest verified and answered the connection (exit %s)" % s_rc)

            x = q.Guest(a, "x", "other-vpc-hostA", "mode=client peer=10.0.2.20 ping=3 expect=none "
                        "want_ip=10.0.1.10", mac=ENIS["x"][3]).run()
            check(x == 0, "vpc-x guest on host A with the client's address: no reply from 10.0.2.20 (exit %s)" % x)
            nr = a.stats("x")["drop_no_route"]
            check(nr == 3, "host A dropped its 3 pings: no route outside vpc-x (drop_no_route=%d)" % nr)
            ua, ub = a.underlay(), b.underlay()
            check(ub.get("tunnel_rx_ok", 0) > 0 and ub.get("tunnel_rx_auth_fail", 1) == 0 and
                  ub.get("tunnel_rx_spoofed", 1) == 0 and ua.get("tunnel_rx_auth_fail", 1) == 0,
                  "every datagram each card received authenticated (B rx_ok=%s, A tx_sent=%s)" %
                  (ub.get("tunnel_rx_ok"), ua.get("tx_sent")))
        finally:
            for g in guests:
                g.kill()
                g.finish()
            alive = all(h.proc.poll() is None for h in hosts)
            for h in hosts:
                h.close()
            subprocess.run(["ip", "netns", "del", nsa], capture_output=True)
            subprocess.run(["ip", "netns", "del", nsb], capture_output=True)
            if q.FAILS:
                for h in hosts:
                    print("--- %s log:\n%s" % (h.name, open(h.log).read()[-4000:]))
        check(alive, "both cards served every guest and are still running")
    if q.FAILS:
        print("%d checks failed" % len(q.FAILS))
        sys.exit(1)


if __name__ == "__main__":
    main()
