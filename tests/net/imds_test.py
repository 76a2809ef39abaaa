#!/usr/bin/python3
# tests/net: the instance metadata service (IMDSv2 semantics) that ward-net
# serves at 169.254.169.254:80, driven through its vhost-user-net sockets by
# tests/net/net_driver with a TCP client written here in scapy (independent
# of the card's own TCP code). Metadata and credentials are pushed over
# netctl ENI_META, as the controller does. Nothing waits on time for a
# verdict: a segment the card must drop is followed by an ARP request on the
# same ring, so when the ARP reply comes back the dropped one was handled.
import errno, json, os, re, signal, socket, struct, subprocess, sys, tempfile, time

from scapy.all import ARP, IP, TCP, Ether, raw

BUILD = os.environ.get("WARD_BUILD_ROOT", "build")
ROUTER_MAC = "02:77:61:72:64:01"
IMDS = "169.254.169.254"
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


ENIS = [
    ("eni-a", "subnet-1", "02:00:00:00:01:0a", "10.0.1.10", {"secondary_ips": ["10.0.1.11"]}),
    ("eni-a2", "subnet-2", "02:00:00:00:02:0a", "10.0.2.10", {"mtu": 1500}),   # same instance
    ("eni-b", "subnet-1", "02:00:00:00:01:14", "10.0.1.20", {}),              # another instance
    ("eni-c", "subnet-1", "02:00:00:00:01:1e", "10.0.1.30", {}),              # no metadata yet
]
A, A2, B, C = range(4)
MAC = [e[2] for e in ENIS]
IPS = [e[3] for e in ENIS]
CONFIG = {
    "version": 1,
    "vpcs": [{"id": "vpc-1", "cidr": "10.0.0.0/16"}],
    "subnets": [{"id": "subnet-1", "vpc": "vpc-1", "cidr": "10.0.1.0/24"},
                {"id": "subnet-2", "vpc": "vpc-1", "cidr": "10.0.2.0/24"}],
    "security_groups": [{"id": "sg-1", "vpc": "vpc-1", "egress": [{"proto": "all", "cidr": "0.0.0.0/0"}]},
                        {"id": "sg-2", "vpc": "vpc-1"}],
    "enis": [dict({"id": i, "subnet": s, "mac": m, "ip": ip,
                   "security_groups": ["sg-1", "sg-2"] if i == "eni-a" else ["sg-1"]}, **x)
             for (i, s, m, ip, x) in ENIS],
}
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
STOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN" * 40          # 1120 bytes: several segments
CTL_MAGIC, CTL_DETACH, CTL_STATS, CTL_META = 0x54454e57, 2, 3, 15


def meta_msg(eni, instance="", az="", role="", akid="", updated="", expires="", devno=0, secret="", token="",
             seq=[100]):
    seq[0] += 1
    body = (eni.encode().ljust(64, b"\0") + instance.encode().ljust(64, b"\0") + az.encode().ljust(64, b"\0") +
            role.encode().ljust(64, b"\0") + akid.encode().ljust(32, b"\0") + updated.encode().ljust(24, b"\0") +
            expires.encode().ljust(24, b"\0") + struct.pack("<IHH", devno, len(secret), len(token)) +
            secret.encode() + token.encode())
    return struct.pack("<IHHII", CTL_MAGIC, 1, CTL_META, seq[0], len(body)) + body


def ctl(sock, pkt):
    sock.send(pkt)
    r = sock.recv(4096)
    status, = struct.unpack_from("<i", r, 16)
    msg = r[20:220].split(b"\0")[0].decode()
    n, = struct.unpack_from("<I", r, 220)
    return status, msg, struct.unpack_from("<%dQ" % n, r, 224)


def full_meta(eni, instance, az="us-east-1a", devno=0):
    return meta_msg(eni, instance, az, "ward-role", "ASIAEXAMPLEKEYID0001", "2026-12-08T01:00:00Z",
                    "2026-12-08T07:00:00Z", devno, SECRET, STOKEN)


class Net:
    def __init__(self, tmp, name, extra=(), env=None):
        cfg = os.path.join(tmp, name + ".json")
        with open(cfg, "w") as f:
            json.dump(CONFIG, f)
        self.log = os.path.join(tmp, name + ".log")
        self.socks = [os.path.join(tmp, "%s-%s.sock" % (name, e[0])) for e in ENIS]
        self.ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        args = [os.path.join(BUILD, "src/net/ward-net"), "--config", cfg, "--control-fd", str(theirs.fileno())]
        args += list(extra)
        for e, s in zip(ENIS, self.socks):
            args += ["--eni", "%s=%s" % (e[0], s)]
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stderr=self.logf, pass_fds=[theirs.fileno()],
                                     env=dict(os.environ, **(env or {})))
        theirs.close()
        self.wait_log("ward-net ready", 1)
        self.drv = subprocess.Popen([os.path.join(BUILD, "tests/net/net_driver")] + self.socks,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        check(self.drv.stdout.readline().strip() == "ready", "%s: driver connected" % name)
        self.sport = 40000

    def wait_log(self, text, count):
        for _ in range(600):                      # a hang guard only
            with open(self.log) as f:
                if f.read().count(text) >= count:
                    return
            if self.proc.poll() is not None:
                sys.exit("ward-net exited: %s" % open(self.log).read())
            time.sleep(0.05)
        sys.exit("ward-net never logged %r: %s" % (text, open(self.log).read()))

    def cmd(self, line):
        self.drv.stdin.write(line + "\n")
        self.drv.stdin.flush()
        return self.drv.stdout.readline().strip()

    def send(self, eni, pkt):
        if self.cmd("send %d %s" % (eni, raw(pkt).hex())) != "ok":
            check(False, "send on %s" % ENIS[eni][0])

    def recv(self, eni):
        r = self.cmd("recv %d" % eni).split()
        return Ether(bytes.fromhex(r[2])) if r[0] == "frame" else None

    def marker(self, eni):
        """True when nothing else came back before the ARP reply."""
        self.send(eni, Ether(src=MAC[eni], dst="ff:ff:ff:ff:ff:ff") /
                  ARP(op=1, hwsrc=MAC[eni], psrc=IPS[eni], pdst=IMDS))
        p = self.recv(eni)
        return p is not None and p.haslayer(ARP) and p[ARP].psrc == IMDS

    def stats(self, eni):
        st, msg, vals = ctl(self.ctl, struct.pack("<IHHII", CTL_MAGIC, 1, CTL_STATS, 1, 64) +
                            ENIS[eni][0].encode().ljust(64, b"\0"))
        names = re.search(r"#define DP_COUNTERS\(X\)(.*?)\n\nstruct", open(SRC_DP_H).read(), re.S).group(1)
        return dict(zip(re.findall(r"X\((\w+)\)", names), vals))

    def close(self):
        self.cmd("quit")
        self.drv.wait()
        self.ctl.close()
        rc = self.proc.wait(timeout=60)
        self.logf.close()
        return rc


SRC_DP_H = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../src/net/dp.h")


class Conn:
    """A TCP client on ENI eni, from its own address to 169.254.169.254:80."""

    def __init__(self, n, eni, mss=1460, win=65535):
        self.n, self.eni, self.win = n, eni, win
        n.sport += 1
        self.sport = n.sport
        self.seq = 1000 + self.sport * 7
        self.mss = mss

    def pkt(self, flags, data=b"", seq=None, ack=None, opts=None):
        return (Ether(src=MAC[self.eni], dst=ROUTER_MAC) / IP(src=IPS[self.eni], dst=IMDS, ttl=64) /
                TCP(sport=self.sport, dport=80, flags=flags, seq=self.seq if seq is None else seq,
                    ack=getattr(self, "ack", 0) if ack is None else ack, window=self.win, options=opts or []) / data)

    def syn(self):
        self.n.send(self.eni, self.pkt("S", opts=[("MSS", self.mss)]))
        p = self.n.recv(self.eni)
        self.synack = p
        if p is None or not p.haslayer(TCP) or p[TCP].flags != "SA":
            return False
        self.seq += 1
        self.ack = p[TCP].seq + 1
        return True

    def open(self):
        if not self.syn():
            return False
        self.n.send(self.eni, self.pkt("A"))
        return True

    def read_reply(self):
        """Collect segments until the card's FIN; returns (bytes, segments)."""
        data, segs = b"", []
        for _ in range(64):
            p = self.n.recv(self.eni)
            if p is None or not p.haslayer(TCP):
                break
            segs.append(p)
            if p[TCP].seq == self.ack:
                data += bytes(p[TCP].payload)
                self.ack += len(bytes(p[TCP].payload))
            if p[TCP].flags.F:
                self.ack += 1
                break
        return data, segs

    def request(self, text, split=False):
        b = text.encode() if isinstance(text, str) else text
        if split:   # the head in two segments
            self.n.send(self.eni, self.pkt("PA", b[:10]))
            a = self.n.recv(self.eni)
            if a is None or a[TCP].ack != self.seq + 10:
                return None, []
            self.n.send(self.eni, self.pkt("PA", b[10:], seq=self.seq + 10))
        else:
            self.n.send(self.eni, self.pkt("PA", b))
        self.sent = b
        self.seq += len(b)
        return self.read_reply()

    def close(self):
        """ACK the card's FIN and send ours; the card ACKs it."""
        self.n.send(self.eni, self.pkt("FA"))
        self.seq += 1
        p = self.n.recv(self.eni)
        return p is not None and p[TCP].flags == "A" and p[TCP].ack == self.seq


def http(n, eni, method, path, headers=None, mss=1460):
    c = Conn(n, eni, mss=mss)
    if not c.open():
        return None
    h = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    data, segs = c.request("%s %s HTTP/1.1\r\nHost: 169.254.169.254\r\n%s\r\n" % (method, path, h))
    c.close()
    return parse(data, segs)


def parse(data, segs):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    m = re.match(r"HTTP/1.1 (\d+) ", lines[0]) if lines else None
    hdrs = dict(l.split(": ", 1) for l in lines[1:] if ": " in l)
    return {"code": int(m.group(1)) if m else 0, "headers": hdrs, "body": body.decode(errors="replace"),
            "segs": segs}


def token(n, eni, ttl=21600):
    r = http(n, eni, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})
    return r["body"] if r and r["code"] == 200 else None, r


def get(n, eni, path, tok, method="GET"):
    return http(n, eni, method, path, {"X-aws-ec2-metadata-token": tok})


def test_handshake(n):
    c = Conn(n, A)
    check(c.syn(), "SYN -> SYN-ACK from 169.254.169.254:80")
    p = c.synack
    check(p.src == ROUTER_MAC and p.dst == MAC[A] and p[IP].src == IMDS and p[IP].dst == IPS[A] and
          p[TCP].ack == c.seq and dict(p[TCP].options).get("MSS") == 8961,
          "SYN-ACK: router MAC, acks the SYN, MSS from the ENI's MTU (8961)")
    c2 = Conn(n, A)
    c2.syn()
    check(c2.synack[TCP].seq != p[TCP].seq, "ISNs differ between connections")
    for x in (c, c2):   # reset both: the slots come back
        n.send(A, x.pkt("R"))
    d = Conn(n, A2)
    check(d.syn() and dict(d.synack[TCP].options).get("MSS") == 1460, "MTU 1500 ENI: MSS 1460")
    n.send(A2, d.pkt("R"))
    # A segment of no connection gets an RST; a stray ACK with data too.
    c3 = Conn(n, A)
    n.send(A, c3.pkt("A", ack=12345))
    p = n.recv(A)
    check(p is not None and p[TCP].flags == "R" and p[TCP].seq == 12345, "segment of no connection: RST")


def test_tokens(n):
    tok, r = token(n, A)
    check(r is not None and r["code"] == 200 and tok and len(tok) == 64,
          "PUT /latest/api/token -> 200 and a token (%s)" % (r and r["code"]))
    check(r["headers"].get("X-aws-ec2-metadata-token-ttl-seconds") == "21600", "the reply states the TTL")
    data_segs = [s for s in r["segs"] if len(bytes(s[TCP].payload))]
    check(data_segs and all(s[IP].ttl == 1 for s in data_segs), "the token reply leaves with IP TTL 1")
    r = get(n, A, "/latest/meta-data/instance-id", tok)
    check(r["code"] == 200 and r["body"] == "i-0123456789abcdef0", "GET instance-id with the token")
    check(all(s[IP].ttl == 64 for s in r["segs"]), "a GET reply has TTL 64")
    r = get(n, A, "/latest/meta-data/instance-id", tok, method="HEAD")
    check(r["code"] == 200 and r["body"] == "" and r["headers"].get("Content-Length") == "19",
          "HEAD: the head only, Content-Length of the value")
    # The token is bound to the ENI (and instance) that asked for it.
    r = get(n, B, "/latest/meta-data/instance-id", tok)
    check(r["code"] == 401, "a token from eni-a is refused on eni-b: 401")
    r = get(n, A2, "/latest/meta-data/instance-id", tok)
    check(r["code"] == 401, "a token from eni-a is refused on eni-a2 (same instance, another ENI): 401")
    bad = tok[:-1] + ("A" if tok[-1] != "A" else "B")
    check(get(n, A, "/latest/meta-data/instance-id", bad)["code"] == 401, "an altered token: 401")
    check(http(n, A, "GET", "/latest/meta-data/instance-id")["code"] == 401, "GET without a token: 401")
    check(http(n, A, "HEAD", "/latest/meta-data/")["code"] == 401, "HEAD without a token: 401")
    return tok


def test_errors(n, tok):
    r = http(n, A, "PUT", "/latest/api/token",
             {"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "203.0.113.9"})
    check(r["code"] == 403, "PUT with X-Forwarded-For: 403")
    check(http(n, A, "PUT", "/latest/api/token")["code"] == 400, "PUT without a TTL: 400")
    for ttl in ("0", "21601", "abc", "-5", "60 60"):
        r = http(n, A, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
        check(r["code"] == 400, "PUT with TTL %r: 400" % ttl)
    r = http(n, A, "POST", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    check(r["code"] == 405 and r["headers"].get("Allow") == "PUT", "POST to the token path: 405, Allow: PUT")
    r = get(n, A, "/latest/api/token", tok)
    check(r["code"] == 405 and r["headers"].get("Allow") == "PUT", "GET of the token path: 405")
    r = http(n, A, "DELETE", "/latest/meta-data/", {"X-aws-ec2-metadata-token": tok})
    check(r["code"] == 405 and r["headers"].get("Allow") == "GET, HEAD", "DELETE: 405, Allow: GET, HEAD")
    check(get(n, A, "/latest/meta-data/nothing-here", tok)["code"] == 404, "unknown path: 404")
    check(get(n, A, "/latest/meta-data/iam/security-credentials/other-role", tok)["code"] == 404,
          "another role's credentials: 404")
    for junk, what in [(b"GET /x HTTP/1.1\nHost: a\n\n", "bare LF"), (b"GET x HTTP/1.1\r\n\r\n", "relative target"),
                       (b"GET / HTTP/2.0\r\n\r\n", "HTTP/2.0"), (b"GET / HTTP/1.1\r\n folded\r\n\r\n", "obs-fold"),
                       (b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", "a body"),
                       (b"GET / HTTP/1.1\r\nA\x00: b\r\n\r\n", "NUL in a header")]:
        c = Conn(n, A)
        c.open()
        data, _ = c.request(junk)
        check(parse(data, [])["code"] == 400, "malformed request (%s): 400" % what)
        c.close()


def test_paths(n):
    tok, _ = token(n, A)
    want = {
        "/latest/meta-data/": "iam/\ninstance-id\nlocal-ipv4\nmac\nnetwork/\nplacement/",
        "/latest/meta-data/local-ipv4": IPS[A],
        "/latest/meta-data/mac": MAC[A],
        "/latest/meta-data/placement/availability-zone": "us-east-1a",
        "/latest/meta-data/placement/": "availability-zone",
        "/latest/meta-data/network/interfaces/macs/": "%s/\n%s/" % (MAC[A], MAC[A2]),
        "/latest/meta-data/network/interfaces/macs/%s/local-ipv4s" % MAC[A]: "10.0.1.10\n10.0.1.11",
        "/latest/meta-data/network/interfaces/macs/%s/subnet-id" % MAC[A]: "subnet-1",
        "/latest/meta-data/network/interfaces/macs/%s/vpc-id" % MAC[A]: "vpc-1",
        "/latest/meta-data/network/interfaces/macs/%s/security-group-ids" % MAC[A]: "sg-1\nsg-2",
        "/latest/meta-data/network/interfaces/macs/%s/device-number" % MAC[A2]: "1",
        "/latest/meta-data/network/interfaces/macs/%s/mac" % MAC[A2]: MAC[A2],
        "/latest/meta-data/network/interfaces/macs/%s/local-ipv4s" % MAC[A2]: IPS[A2],
        "/latest/meta-data/iam/security-credentials/": "ward-role",
    }
    for path, body in want.items():
        r = get(n, A, path, tok)
        check(r["code"] == 200 and r["body"] == body, "GET %s" % path)
    r = get(n, A, "/latest/meta-data/network/interfaces/macs/%s/subnet-id" % MAC[B], tok)
    check(r["code"] == 404, "another instance's ENI is not listed or served: 404")
    r = http(n, A, "GET", "/latest/meta-data/iam/security-credentials/ward-role",
             {"X-aws-ec2-metadata-token": tok}, mss=536)
    try:
        j = json.loads(r["body"])
    except ValueError:
        j = {}
    check(r["code"] == 200 and j == {"Code": "Success", "LastUpdated": "2026-12-08T01:00:00Z", "Type": "AWS-HMAC",
                                     "AccessKeyId": "ASIAEXAMPLEKEYID0001", "SecretAccessKey": SECRET,
                                     "Token": STOKEN, "Expiration": "2026-12-08T07:00:00Z"},
          "the role's credentials, as AWS's JSON")
    check(len(r["segs"]) >= 3 and all(len(bytes(s[TCP].payload)) <= 536 for s in r["segs"]),
          "the reply is cut at the client's MSS (%d segments of <= 536)" % len(r["segs"]))
    # eni-c has no ENI_META yet: what needs it is 404, the rest served.
    tc, _ = token(n, C)
    check(get(n, C, "/latest/meta-data/instance-id", tc)["code"] == 404, "instance-id not set yet: 404")
    check(get(n, C, "/latest/meta-data/placement/availability-zone", tc)["code"] == 404, "AZ not set yet: 404")
    check(get(n, C, "/latest/meta-data/iam/security-credentials/", tc)["code"] == 404, "no role: iam/ is 404")
    check(get(n, C, "/latest/meta-data/local-ipv4", tc)["body"] == IPS[C], "the ENI's own address is served")
    return tok


def test_tcp(n, tok):
    # A request head in two segments, then the same request retransmitted
    # after the reply: the same reply again (the client lost it).
    c = Conn(n, A)
    c.open()
    req = "GET /latest/meta-data/instance-id HTTP/1.1\r\nX-aws-ec2-metadata-token: %s\r\n\r\n" % tok
    data, _ = c.request(req, split=True)
    check(parse(data, [])["body"] == "i-0123456789abcdef0", "a request head split over two segments")
    n.send(A, c.pkt("PA", req.encode(), seq=c.seq - len(req), ack=c.ack - len(data) - 1))
    again = b""
    for _ in range(8):
        p = n.recv(A)
        if p is None:
            break
        again += bytes(p[TCP].payload)
        if p[TCP].flags.F:
            break
    check(again == data, "a retransmitted request gets the same reply")
    check(c.close(), "FIN exchange: the card ACKs the client's FIN")
    # Out of order data is not taken: only a duplicate ACK comes back.
    c = Conn(n, A)
    c.open()
    n.send(A, c.pkt("PA", b"GET / HTTP/1.1\r\n\r\n", seq=c.seq + 100))
    p = n.recv(A)
    check(p is not None and p[TCP].flags == "A" and p[TCP].ack == c.seq, "out-of-order data: duplicate ACK only")
    n.send(A, c.pkt("R"))
    # Oversize: more than 4 KiB without the end of the head -> 400, closed.
    c = Conn(n, A, mss=1460)
    c.open()
    for i in range(5):
        n.send(A, c.pkt("A", b"X" * 1000))
        c.seq += 1000
        if i < 4:
            n.recv(A)                              # the ACK of each chunk
    data, segs = c.read_reply()
    check(parse(data, segs)["code"] == 400 and segs and segs[-1][TCP].flags.F, "a request over 4 KiB: 400 and FIN")
    c.close()
    # A window of 100 bytes: the reply comes 100 bytes at a time, each
    # after the client's ACK.
    c = Conn(n, A, win=100)
    c.open()
    n.send(A, c.pkt("PA", req.encode()))
    c.seq += len(req)
    got, biggest = b"", 0
    for _ in range(40):
        p = n.recv(A)
        if p is None:
            break
        pl = bytes(p[TCP].payload)
        biggest = max(biggest, len(pl))
        got += pl
        c.ack = p[TCP].seq + len(pl) + (1 if p[TCP].flags.F else 0)
        if p[TCP].flags.F:
            break
        n.send(A, c.pkt("A"))
    check(parse(got, [])["body"] == "i-0123456789abcdef0" and biggest <= 100,
          "reply paced by a 100-byte client window (largest segment %d)" % biggest)
    c.close()


def test_table_full(n):
    before = n.stats(B)
    conns = []
    for i in range(8):
        c = Conn(n, B)
        c.syn()
        conns.append(c)
    ok = all(c.synack is not None and c.synack[TCP].flags == "SA" for c in conns)
    check(ok, "8 half-open connections take the 8 slots")
    c = Conn(n, B)
    n.send(B, c.pkt("S"))
    check(n.marker(B), "the 9th SYN is dropped (nothing before the marker)")
    # Another ENI is not disturbed.
    tok, _ = token(n, A)
    check(tok is not None, "eni-a still served while eni-b's table is full")
    after = n.stats(B)
    check(after["imds_conn_full"] - before["imds_conn_full"] == 1, "counted as imds_conn_full")
    for c in conns:
        n.send(B, c.pkt("R"))
    check(token(n, B)[0] is not None, "after RSTs the slots are free again")


def test_control(n):
    st, msg, _ = ctl(n.ctl, meta_msg("eni-c", "i-bad\"quote"))
    check(st == -errno.EPROTO, "ENI_META with a quote in the instance id refused: " + msg)
    st, msg, _ = ctl(n.ctl, meta_msg("eni-c", "i-c", role="r", akid="ASIAEXAMPLEKEYID0001",
                                     updated="2026-12-08T01:00:00Z", expires="2026-13", secret="s", token="t"))
    check(st == -errno.EPROTO, "ENI_META with a malformed expiration refused: " + msg)
    st, msg, _ = ctl(n.ctl, meta_msg("eni-c", "i-c", secret="s"))
    check(st == -errno.EPROTO, "ENI_META with a secret and no role refused: " + msg)
    pkt = bytearray(meta_msg("eni-c", "i-c"))
    struct.pack_into("<I", pkt, 12, 400)
    st, msg, _ = ctl(n.ctl, bytes(pkt))
    check(st == -errno.EPROTO, "ENI_META with a lying length refused: " + msg)
    st, msg, _ = ctl(n.ctl, meta_msg("eni-none", "i-x"))
    check(st == -errno.ENOENT, "ENI_META for an unknown ENI: " + msg)
    # Replaced: the role goes, its credentials with it; the instance id
    # changes, so old tokens die.
    tok, _ = token(n, A)
    st, msg, _ = ctl(n.ctl, meta_msg("eni-a", "i-0new", "us-east-1b"))
    check(st == 0, "ENI_META replaces eni-a's metadata")
    check(get(n, A, "/latest/meta-data/instance-id", tok)["code"] == 401, "a token of the old instance: 401")
    t2, _ = token(n, A)
    check(get(n, A, "/latest/meta-data/iam/security-credentials/ward-role", t2)["code"] == 404,
          "credentials gone with the role: 404")
    check(get(n, A, "/latest/meta-data/placement/availability-zone", t2)["body"] == "us-east-1b", "the new AZ")


def test_throttle(tmp):
    n = Net(tmp, "throttle", ["--imds-throttle", "0:3"])
    try:
        ctl(n.ctl, full_meta("eni-a", "i-same", devno=0))
        ctl(n.ctl, full_meta("eni-a2", "i-same", devno=1))
        ok = [Conn(n, A).syn(), Conn(n, A2).syn(), Conn(n, A).syn()]
        check(all(ok), "3 connections within the burst (two ENIs, one instance)")
        n.send(A2, Conn(n, A2).pkt("S"))
        check(n.marker(A2), "the 4th of the instance is dropped, on its other ENI too")
        check(Conn(n, B).syn(), "another instance has its own bucket")
        s = n.stats(A2)
        check(s["imds_throttled"] == 1 and n.stats(A)["imds_throttled"] == 0, "counted as imds_throttled")
        n.proc.send_signal(signal.SIGUSR1)
        n.wait_log('msg="counters"', len(ENIS))
        lines = [l for l in open(n.log) if 'msg="counters"' in l and "eni=eni-a2 " in l]
        check(lines and "imds_throttled=1 " in lines[-1], "SIGUSR1's counters show imds_throttled=1")
    finally:
        n.close()


def test_idle(tmp):
    """Test builds: a virtual IMDS clock that moves 1 s per segment, so a
    slot idle for 10 s is reached by counting, not by waiting."""
    n = Net(tmp, "idle", env={"WARD_NET_TEST_IMDS_CLOCK_STEP_MS": "1000"})
    try:
        conns = [Conn(n, A) for _ in range(8)]
        check(all(c.syn() for c in conns), "8 half-open connections at t = 1..8 s")
        for t in (9, 10):
            n.send(A, Conn(n, A).pkt("S"))
            check(n.marker(A), "t = %d s: table full, the oldest idle for under 10 s: SYN dropped" % t)
        check(Conn(n, A).syn(), "t = 11 s: the first slot idle for 10 s is taken back for a new SYN")
        n.send(A, conns[0].pkt("A"))
        p = n.recv(A)
        check(p is not None and p[TCP].flags == "R", "the reclaimed connection's late ACK gets an RST")
        check(n.stats(A)["imds_conn_full"] == 2, "two SYNs counted as imds_conn_full")
    finally:
        n.close()


def main():
    with tempfile.TemporaryDirectory(prefix="ward-imds-") as tmp:
        n = Net(tmp, "imds")
        try:
            for pkt, what in [(full_meta("eni-a", "i-0123456789abcdef0", devno=0), "eni-a"),
                              (full_meta("eni-a2", "i-0123456789abcdef0", devno=1), "eni-a2"),
                              (meta_msg("eni-b", "i-0bbbbbbbbbbbbbbbb", "us-east-1a"), "eni-b")]:
                st, msg, _ = ctl(n.ctl, pkt)
                check(st == 0, "ENI_META %s: %s" % (what, msg))
            test_handshake(n)
            tok = test_tokens(n)
            test_errors(n, tok)
            test_paths(n)
            test_tcp(n, tok)
            test_table_full(n)
            test_control(n)
            s = n.stats(A)
            check(s["imds_tokens"] >= 5 and s["imds_refused"] >= 15 and s["imds_requests"] > s["imds_tokens"],
                  "STATS: imds_tokens %d, imds_refused %d, imds_requests %d" %
                  (s["imds_tokens"], s["imds_refused"], s["imds_requests"]))
            st, msg, _ = ctl(n.ctl, struct.pack("<IHHII", CTL_MAGIC, 1, CTL_DETACH, 9, 64) + b"eni-a2".ljust(64, b"\0"))
            check(st == 0, "DETACH eni-a2 (its metadata is wiped)")
        finally:
            rc = n.close()
            log = open(n.log).read()
            if FAILS or rc:
                print(log)
        check(rc == 0, "ward-net exits cleanly when the control channel closes")
        check(SECRET not in log and STOKEN[:40] not in log and "sandbox=on" in log,
              "no credential in the log; ran sandboxed")
        test_throttle(tmp)
        test_idle(tmp)
    if FAILS:
        print("%d checks failed" % len(FAILS))
        sys.exit(1)


if __name__ == "__main__":
    main()
