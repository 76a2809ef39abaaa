#!/usr/bin/python3
# tests/net: real guests on ward-net. QEMU (an independent virtio-net
# frontend: -netdev vhost-user on the ENI's socket, guest RAM in a shared
# memfd) boots the guest kit's net-check, which runs its own DHCP client,
# ARP, ICMP echo and TCP (guest/lib/inet.c, tcp.c). KVM when /dev/kvm is
# usable, else QEMU's TCG: the test never skips for want of KVM.
# Checked, through one ward-net with a VPC of two subnets and a second VPC
# reusing the same addresses:
#  - both guests get their DHCP lease (address, router .1, DNS = VPC base
#    + 2, lease, MTU 9001 or 1500 as the ENI says);
#  - a security group refuses the client's pings (no reply; drop_sg counted
#    on the server's ENI) until SG_RULE_ADD over netctl allows ICMP; then
#    the pings are answered through the router, and a TCP connection moves
#    64 KiB each way, checked byte for byte by both guests, closed by FIN;
#  - the client does an IMDSv2 round trip with the card's metadata service:
#    PUT a token, GET without it is 401, GET local-ipv4 and instance-id
#    (pushed by ENI_META) with it;
#  - a client in the server's own subnet reaches it with the peer's MAC;
#  - a guest in the other VPC with the client's very address gets no reply
#    from the server's address (drop_no_route on its ENI);
#  - bench-net: 20000 fixed-size frames, each received or counted lost, and
#    every loss accounted for by ward-net (drop_rx_full).
# A wait here is only a hang guard: each verdict is a guest's exit status,
# its serial output, or ward-net's counters.
import json, os, re, signal, socket, struct, subprocess, sys, tempfile, time

BUILD = os.environ.get("WARD_BUILD_ROOT", "build")
ELF = os.path.join(BUILD, "guest/net-check.elf")
BENCH_ELF = os.path.join(BUILD, "guest/bench-net.elf")
FAILS = []

MAGIC, STATS, RULE_ADD, ENI_META = 0x54454e57, 3, 9, 15
INSTANCE = "i-0a1b2c3d4e5f60718"
COUNTERS = ("tx_frames tx_bytes rx_frames rx_bytes arp_replies arp_unanswered arp_ignored dhcp_replies "
            "drop_malformed drop_unsupported drop_spoof_mac drop_spoof_ip drop_no_route drop_to_router "
            "drop_broadcast drop_dhcp drop_filter drop_rx_full drop_oversize drop_bad_header drop_sg "
            "drop_nacl drop_ct_invalid conntrack_allowance_exceeded").split()

ALL_OUT = [{"proto": "all", "cidr": "0.0.0.0/0"}]
# c: the client in subnet s1; s: the server in s2, which at first admits
# only TCP 7 (and UDP 9) from the VPC; q: a client in the server's subnet
# (no router between them); x: vpc-b, the client's own address, MTU 1500.
ENIS = {"c": ("eni-c", "s1", "02:00:00:00:01:0a", "10.0.1.10", "sg-client", {}),
        "s": ("eni-s", "s2", "02:00:00:00:02:0a", "10.0.2.10", "sg-srv", {}),
        "q": ("eni-q", "s2", "02:00:00:00:02:14", "10.0.2.20", "sg-client", {}),
        "x": ("eni-x", "sb", "02:00:00:00:0b:0a", "10.0.1.10", "sg-b", {"mtu": 1500})}
CONFIG = {
    "version": 1,
    "vpcs": [{"id": "vpc-a", "cidr": "10.0.0.0/16"}, {"id": "vpc-b", "cidr": "10.0.0.0/16"}],
    "subnets": [{"id": "s1", "vpc": "vpc-a", "cidr": "10.0.1.0/24"},
                {"id": "s2", "vpc": "vpc-a", "cidr": "10.0.2.0/24"},
                {"id": "sb", "vpc": "vpc-b", "cidr": "10.0.1.0/24"}],
    "security_groups": [
        {"id": "sg-client", "vpc": "vpc-a", "egress": ALL_OUT},
        {"id": "sg-srv", "vpc": "vpc-a", "ingress": [{"proto": "tcp", "ports": [7, 7], "cidr": "10.0.0.0/16"},
                                                     {"proto": "udp", "ports": [9, 9], "cidr": "10.0.0.0/16"}],
         "egress": ALL_OUT},
        {"id": "sg-b", "vpc": "vpc-b", "ingress": [{"proto": "all", "cidr": "0.0.0.0/0"}], "egress": ALL_OUT},
    ],
    "enis": [dict({"id": i, "subnet": s, "mac": m, "ip": a, "security_groups": [g]}, **x)
             for (i, s, m, a, g, x) in ENIS.values()],
}


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def kvm_usable():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False


ACCEL = ["-enable-kvm", "-cpu", "EPYC"] if kvm_usable() else ["-accel", "tcg", "-cpu", "max"]


def icmp_rule(cidr):
    """netctl's 84-byte rule (docs/formats.md): ICMP, any type/code, from cidr."""
    net, prefix = cidr.split("/")
    return struct.pack("<hHHhhHBBH4s64s", 1, 0, 65535, -1, -1, 0, 1, int(prefix), 0,
                       socket.inet_aton(net), b"")


class Card:
    def __init__(self, tmp):
        self.tmp = tmp
        cfg = os.path.join(tmp, "vpc.json")
        with open(cfg, "w") as f:
            json.dump(CONFIG, f)
        self.ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.log = os.path.join(tmp, "ward-net.log")
        self.logf = open(self.log, "w")
        self.sock = {k: os.path.join(tmp, e[0] + ".sock") for k, e in ENIS.items()}
        args = [os.path.join(BUILD, "src/net/ward-net"), "--config", cfg, "--control-fd", str(theirs.fileno())]
        for k, e in ENIS.items():
            args += ["--eni", "%s=%s" % (e[0], self.sock[k])]
        self.proc = subprocess.Popen(args, pass_fds=[theirs.fileno()], stderr=self.logf)
        theirs.close()
        self.seq = 0
        for _ in range(600):   # hang guard: ready is logged once every socket is bound
            if "ward-net ready" in open(self.log).read():
                break
            if self.proc.poll() is not None:
                sys.exit("ward-net exited: " + open(self.log).read())
            time.sleep(0.05)

    def request(self, typ, payload):
        self.seq += 1
        self.ctl.send(struct.pack("<IHHII", MAGIC, 1, typ, self.seq, len(payload)) + payload)
        r = self.ctl.recv(4096)
        magic, _, rtype, seq, _ = struct.unpack_from("<IHHII", r)
        status, = struct.unpack_from("<i", r, 16)
        n, = struct.unpack_from("<I", r, 220)
        assert magic == MAGIC and rtype == 0x81 and seq == self.seq, "bad netctl reply"
        return status, r[20:220].split(b"\0")[0].decode(), dict(zip(COUNTERS, struct.unpack_from("<%dQ" % n, r, 224)))

    def meta(self, k, instance, az):
        """ENI_META (docs/formats.md) with an instance id and AZ, no role."""
        body = b"".join(x.encode().ljust(64, b"\0") for x in (ENIS[k][0], instance, az, "")) + \
            b"\0" * (32 + 24 + 24) + struct.pack("<IHH", 0, 0, 0)
        return self.request(ENI_META, body)[:2]

    def stats(self, k):
        return self.request(STATS, ENIS[k][0].encode().ljust(64, b"\0"))[2]

    def close(self):
        self.ctl.close()          # without --keep-fd, ward-net stops when its controller goes
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.logf.close()
        return rc


class Guest:
    """net-check under QEMU on ENI k; its serial console goes to a file."""

    def __init__(self, card, k, name, append, timeout=90, elf=ELF, mac=None, reconnect=False):
        self.name = name
        self.out = os.path.join(card.tmp, name + ".out")
        self.err = os.path.join(card.tmp, name + ".err")
        cmd = ["timeout", "-k", "5", str(timeout), "qemu-system-x86_64", "-M", "microvm,pcie=on"] + ACCEL + [
            "-m", "64", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
            "-object", "memory-backend-memfd,id=mem,size=64M,share=on", "-machine", "memory-backend=mem",
            "-chardev", "socket,id=c,path=" + card.sock[k] + (",reconnect=1" if reconnect else ""),
            "-netdev", "vhost-user,id=n,chardev=c",
            "-device", "virtio-net-pci,netdev=n,disable-legacy=on,mac=" + (mac or ENIS[k][2]),
            "-kernel", elf, "-append", append]
        self.t0 = time.monotonic()
        # Its own process group, so kill() reaches QEMU and not only timeout.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(self.out, "w"),
                                     stderr=open(self.err, "w"), start_new_session=True)

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def text(self):
        return open(self.out).read()

    def wait_line(self, text, limit=60):
        for _ in range(limit * 20):   # hang guard only
            if text in self.text() or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return text in self.text()

    def finish(self):
        """The guest's exit value (QEMU's status is value << 1 | 1), or None."""
        rc = self.proc.wait()
        self.secs = time.monotonic() - self.t0
        sys.stdout.write("--- %s (%.1f s, QEMU status %d):\n%s" % (self.name, self.secs, rc, self.text()))
        err = [l for l in open(self.err) if "host doesn't support" not in l and l.strip()]
        if err:
            sys.stdout.write("--- %s stderr:\n%s" % (self.name, "".join(err[-10:])))
        return rc >> 1 if rc & 1 else None

    def run(self):
        return self.finish()


def main():
    if not os.path.exists(ELF):
        sys.exit("%s is missing: the guest kit did not build it" % ELF)
    if subprocess.run(["sh", "-c", "command -v qemu-system-x86_64"], stdout=subprocess.DEVNULL).returncode:
        print("SKIP: qemu-system-x86_64 is not installed")
        sys.exit(77)
    print("accelerator: " + ("kvm" if ACCEL[0] == "-enable-kvm" else "tcg (no usable /dev/kvm)"), flush=True)
    with tempfile.TemporaryDirectory(prefix="ward-net-qemu-") as tmp:
        card = Card(tmp)
        srv = None
        try:
            srv = Guest(card, "s", "server", "mode=server port=7 conns=2 secs=150 "
                        "want_ip=10.0.2.10 want_dns=10.0.0.2 want_mtu=9001", timeout=170)
            check(srv.wait_line("net-check: server: listening on 10.0.2.10:7"),
                  "server guest: DHCP lease (10.0.2.10, DNS 10.0.0.2, MTU 9001), router ARP, listening")

            c1 = Guest(card, "c", "client-refused", "mode=client secs=60 peer=10.0.2.10 ping=3 expect=none "
                       "want_ip=10.0.1.10 want_dns=10.0.0.2 want_mtu=9001").run()
            check(c1 == 0, "client guest: lease (10.0.1.10, MTU 9001), ARP for the router; "
                  "3 pings to the server refused by its group (exit %s)" % c1)
            # The guest's lease check has teeth: the same client told to
            # expect the MTU another ENI has fails with exit 6.
            bad = Guest(card, "c", "client-wrong-mtu", "mode=client secs=60 peer=10.0.2.10 ping=0 tcp=0 "
                        "want_mtu=1500").run()
            check(bad == 6, "a lease that differs from what the guest was told to expect fails it (exit %s, want 6)"
                  % bad)
            drop_sg = card.stats("s")["drop_sg"]
            check(drop_sg == 3, "ward-net counted the 3 refused echo requests on eni-s (drop_sg=%d)" % drop_sg)

            st, msg, _ = card.request(RULE_ADD, struct.pack("<64sB3x", b"sg-srv", 0) + icmp_rule("10.0.0.0/16"))
            check(st == 0, "SG_RULE_ADD sg-srv ingress icmp from 10.0.0.0/16: " + msg)

            st, msg = card.meta("c", INSTANCE, "az-1a")
            check(st == 0, "ENI_META eni-c: the instance id the controller would push: " + msg)

            # 8000-byte pings and a 9001 MTU (8961-byte segments): frames
            # span several 2 KiB rx buffers (MRG_RXBUF) on both guests.
            c2 = Guest(card, "c", "client", "mode=client secs=60 peer=10.0.2.10 ping=4 ping_size=8000 tcp=262144 "
                       "port=7 want_ip=10.0.1.10 want_dns=10.0.0.2 want_mtu=9001 renew=1 imds=1 want_instance=" +
                       INSTANCE).run()
            check(c2 == 0, "client guest: its lease renewed (unicast REQUEST, ciaddr); 4 pings of 8000 bytes answered through the router, TCP 256 KiB "
                  "each way checked and closed; IMDSv2: token PUT, GET refused without it (401), "
                  "local-ipv4 and instance-id with it (exit %s)" % c2)
            out = open(os.path.join(tmp, "client.out")).read()
            check("mrg_rxbuf=yes" in out and "mss=8961/8961 wscale=yes" in out,
                  "QEMU and ward-net agreed on MRG_RXBUF; both ends used 9001-byte MTU segments and window "
                  "scaling (up to 16 segments, 140 KiB, in flight)")
            bad = [(k, card.stats(k)["drop_ct_invalid"]) for k in ("c", "s")]
            check(all(n == 0 for _, n in bad), "conntrack found every segment of both directions within its "
                  "scaled windows (drop_ct_invalid: %s)" % bad)
            q = Guest(card, "q", "client-same-subnet", "mode=client secs=60 peer=10.0.2.10 ping=2 tcp=65536 port=7 "
                      "want_ip=10.0.2.20").run()
            check(q == 0, "client guest in the server's subnet: pings and TCP straight to the peer (exit %s)" % q)
            out = open(os.path.join(tmp, "client-same-subnet.out")).read()
            check("arp: 10.0.2.10 is 02:00:00:00:02:0a" in out, "ward-net answered its ARP with the peer's own MAC")
            s_rc = srv.finish()
            srv = None
            check(s_rc == 0, "server guest: both connections verified and answered, then exit 0 (exit %s)" % s_rc)

            x = Guest(card, "x", "other-vpc", "mode=client secs=60 peer=10.0.2.10 ping=3 expect=none "
                      "want_ip=10.0.1.10 want_dns=10.0.0.2 want_mtu=1500").run()
            check(x == 0, "vpc-b guest with the client's address: lease (MTU 1500), but no reply from "
                  "10.0.2.10 (exit %s)" % x)
            nr = card.stats("x")["drop_no_route"]
            check(nr == 3, "ward-net dropped its 3 pings: no route outside vpc-b (drop_no_route=%d)" % nr)
            # bench-net: a fixed frame size one way, counted at both ends;
            # what the receiver misses, ward-net must have dropped at its
            # full backlog (the receiver guest is the slower one).
            before = card.stats("s")["drop_rx_full"]
            rx = Guest(card, "s", "bench-rx", "mode=rx port=9 secs=60", timeout=80, elf=BENCH_ELF)
            check(rx.wait_line("bench-net: rx listening"), "bench-net rx guest: lease, listening on udp 9")
            tx = Guest(card, "c", "bench-tx", "mode=tx peer=10.0.2.10 port=9 size=1514 count=20000",
                       elf=BENCH_ELF).run()
            rx_rc = rx.finish()
            check(tx == 0 and rx_rc == 0, "bench-net tx and rx guests finished (exit %s, %s)" % (tx, rx_rc))
            got = dict(re.findall(r"(\w+)=(\d+)", " ".join(l for l in rx.text().splitlines()
                                                           if l.startswith("bench-net: "))))
            dropped = card.stats("s")["drop_rx_full"] - before
            check(got.get("sent") == "20000" and int(got.get("frames", 0)) > 0 and
                  int(got["frames"]) + int(got["lost"]) == 20000 and int(got["bytes"]) == 1514 * int(got["frames"]),
                  "bench-net rx: every one of the 20000 1514-byte frames received or counted lost (%s)" %
                  " ".join("%s=%s" % kv for kv in got.items()))
            check(int(got.get("lost", 0)) <= dropped,
                  "ward-net accounts for every lost frame at the receiver's backlog (lost=%s drop_rx_full=%d)" %
                  (got.get("lost"), dropped))
            # A guest killed (QEMU, kill -9) in the middle of a flood of
            # 9014-byte frames frees its ENI; the next guest gets the network.
            base = card.stats("c")["tx_frames"]
            fl = Guest(card, "c", "flood-killed", "mode=tx peer=10.0.2.10 port=9 size=9014 secs=60",
                       elf=BENCH_ELF)
            for _ in range(1200):   # hang guard: until ward-net has taken 1000 of its frames
                if card.stats("c")["tx_frames"] >= base + 1000 or fl.proc.poll() is not None:
                    break
                time.sleep(0.05)
            fl.kill()
            fl.finish()
            after = Guest(card, "c", "client-after-kill", "mode=client secs=60 peer=10.0.2.10 ping=0 tcp=0 imds=1").run()
            check(after == 0, "after a guest was killed mid-flood, the next one on its ENI gets a lease, "
                  "ARP and IMDS (exit %s)" % after)
            st = card.stats("c")
            check(st["drop_malformed"] == 0 and st["drop_bad_header"] == 0 and st["drop_spoof_ip"] == 0,
                  "the guest kit's frames were all well-formed for ward-net (eni-c: %s)" %
                  " ".join("%s=%d" % kv for kv in st.items() if kv[1]))
        finally:
            if srv is not None:
                srv.kill()
                srv.finish()
            alive = card.proc.poll() is None
            rc = card.close()
            log = open(card.log).read()
        check(alive, "ward-net served every guest and is still running")
        if FAILS:
            print(log)
    if FAILS:
        print("%d checks failed" % len(FAILS))
        sys.exit(1)


if __name__ == "__main__":
    main()
