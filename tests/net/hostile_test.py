#!/usr/bin/python3
# tests/net: a hostile vhost-user-net frontend on one ENI does not disturb
# another ENI's traffic (issue 11, "A hostile frontend"). A sandboxed
# ward-net serves four ENIs of one subnet: a well-behaved pair (good-a ->
# good-b, driven by tests/net/vu_net_load --verify: every frame must arrive
# once, in order, byte for byte, with at most 32 in flight so that nothing
# may be dropped), the hostile ENI (tests/net/net_driver, one connection
# per abuse, since an abuse that stops a ring stops it for that connection),
# and a sink with no frontend. While the pair streams, the hostile frontend
# floods the sink, posts a 64 KiB frame, a chain of every descriptor of its
# ring, a header shorter than 12 bytes, descriptors outside its memory, a
# loop, a next index out of range, an indirect descriptor (never offered),
# a writable TX buffer, an avail index a ring ahead, receive buffers
# outside its memory, and vhost-user messages the protocol forbids.
# Verdicts: the pair's stream is whole; ward-net counted each abuse on the
# hostile ENI only; a forbidden message ends only its own connection; the
# card is still serving (the hostile ENI's next, well-behaved connection
# works) and exits cleanly. No verdict waits on time: the stream runs until
# the abuse is over (its stdin closes).
import json, os, re, signal, socket, struct, subprocess, sys, tempfile, time

from scapy.all import IP, UDP, Ether, raw

BUILD = os.environ.get("WARD_BUILD_ROOT", "build")
FAILS = []

ENIS = [  # id, mac, ip
    ("good-a", "02:00:00:00:01:0a", "10.0.1.10"),
    ("good-b", "02:00:00:00:01:14", "10.0.1.20"),
    ("hostile", "02:00:00:00:01:1e", "10.0.1.30"),
    ("sink", "02:00:00:00:01:28", "10.0.1.40"),
]
GA, GB, H, SINK = range(4)
CONFIG = {
    "version": 1,
    "vpcs": [{"id": "vpc-a", "cidr": "10.0.0.0/16"}],
    "subnets": [{"id": "subnet-a1", "vpc": "vpc-a", "cidr": "10.0.1.0/24"}],
    "security_groups": [{"id": "sg-default", "vpc": "vpc-a", "ingress": [{"proto": "all", "sg": "sg-default"}],
                         "egress": [{"proto": "all", "cidr": "0.0.0.0/0"}]}],
    "enis": [{"id": i, "subnet": "subnet-a1", "mac": m, "ip": ip, "security_groups": ["sg-default"]}
             for (i, m, ip) in ENIS],
}
# Abuses that stop the hostile ENI's TX ring (each counted drop_bad_header),
# and those after which it goes on (counted drop_oversize).
BREAKING = ["shorthdr", "baddesc", "loop", "badnext", "indirect", "writable", "availjump"]
OVERSIZE = ["huge", "longchain"]


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def udp(src, dst, payload):
    return (Ether(src=ENIS[src][1], dst=ENIS[dst][1]) / IP(src=ENIS[src][2], dst=ENIS[dst][2]) /
            UDP(sport=4000, dport=5000) / payload)


class Card:
    def __init__(self, tmp):
        cfg = os.path.join(tmp, "vpc.json")
        with open(cfg, "w") as f:
            json.dump(CONFIG, f)
        self.log = os.path.join(tmp, "ward-net.log")
        self.socks = [os.path.join(tmp, e[0] + ".sock") for e in ENIS]
        args = [os.path.join(BUILD, "src/net/ward-net"), "--config", cfg]
        for e, s in zip(ENIS, self.socks):
            args += ["--eni", "%s=%s" % (e[0], s)]
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stderr=self.logf)
        self.ndump = 0
        self.wait_log("ward-net ready", 1)

    def wait_log(self, text, count):
        # A hang guard only: the verdict never depends on how long this takes.
        for _ in range(1200):
            with open(self.log) as f:
                if f.read().count(text) >= count:
                    return
            if self.proc.poll() is not None:
                sys.exit("ward-net exited: %s" % open(self.log).read())
            time.sleep(0.05)
        sys.exit("ward-net never logged %r: %s" % (text, open(self.log).read()))

    def counters(self):
        self.ndump += 1
        self.proc.send_signal(signal.SIGUSR1)
        self.wait_log('msg="counters"', self.ndump * len(ENIS))
        with open(self.log) as f:
            lines = [l for l in f if 'msg="counters"' in l][-len(ENIS):]
        out = {}
        for l in lines:
            kv = dict(re.findall(r"(\w+)=(\S+)", l))
            out[kv["eni"]] = {k: int(v) for k, v in kv.items() if v.isdigit()}
        return [out[e[0]] for e in ENIS]


def wait_count(card, eni, key, want):
    """Until card's counter key on eni reaches want: the card has handled
    what was posted before a frontend goes away (a vanished frontend's
    unread ring is never read). A hang guard, not a verdict."""
    for _ in range(600):
        c = card.counters()
        if c[eni][key] >= want:
            return c
        time.sleep(0.05)
    return c


def vu(req, payload=b"", flags=1):
    """One vhost-user message: request, flags (version 1), size, payload."""
    return struct.pack("<III", req, flags, len(payload)) + payload


# vhost-user messages the protocol forbids: the card must end the
# connection (and nothing else). Request numbers: GET_FEATURES 1,
# SET_MEM_TABLE 5, SET_VRING_NUM 8, GET_VRING_BASE 11, GET_CONFIG 24.
PROTO_CUT = {
    "a header claiming a 4 GiB payload": struct.pack("<III", 1, 1, 0xffffffff),
    "an unknown request": vu(0x7fff),
    "a memory table of 9 regions": vu(5, struct.pack("<II", 9, 0) + b"\0" * 32 * 8),
    "a memory region without its fd": vu(5, struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, 1 << 20, 0x10000, 0)),
    "a ring index out of range": vu(8, struct.pack("<II", 7, 256)),
    "a config read past the config space": vu(24, struct.pack("<III", 0xfffffff0, 16, 0) + b"\0" * 16),
    "GET_VRING_BASE of a ring that does not exist": vu(11, struct.pack("<II", 9, 0)),
}
# Refused values the frontend cannot be told about without REPLY_ACK: the
# request fails (logged), the connection goes on.
PROTO_REFUSED = {
    "a ring size that is not a power of two": vu(8, struct.pack("<II", 0, 3)),
}


def proto_garbage(path, data):
    """Sends data on a new connection, then GET_FEATURES: 'cut' if the
    card closed the connection, 'answered' if it replied (it handles
    messages in order, so this never waits on time; the 10 s timeout is a
    hang guard)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    try:
        s.sendall(data)
        s.sendall(vu(1))
        h = s.recv(12)
        if len(h) == 12 and struct.unpack("<III", h)[0] == 1:
            return "answered"
        return "cut" if not h else "bad reply"
    except (ConnectionResetError, BrokenPipeError):
        return "cut"
    except socket.timeout:
        return "hung"
    finally:
        s.close()


class Driver:
    """net_driver on one ENI's socket: one frontend connection."""
    def __init__(self, sock):
        self.p = subprocess.Popen([os.path.join(BUILD, "tests/net/net_driver"), sock],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        check(self.p.stdout.readline().strip() == "ready", "hostile frontend connected")

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.close()
        return self.p.wait(timeout=60)


def main():
    with tempfile.TemporaryDirectory(prefix="ward-net-hostile-") as tmp:
        os.chmod(tmp, 0o755)   # the sandboxed card (uid 65534) reaches nothing here but its sockets
        card = Card(tmp)
        stream = None
        try:
            ep = lambda i: "%s,%s" % (ENIS[i][1], ENIS[i][2])
            stream = subprocess.Popen([os.path.join(BUILD, "tests/net/vu_net_load"), "--tx", card.socks[GA],
                                       "--rx", card.socks[GB], "--size", "1514", "--until-eof", "--verify",
                                       "--window", "32", "--src", ep(GA), "--dst", ep(GB)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            card.wait_log("frontend connected", 2)

            # A flood from the hostile ENI to the sink (no frontend: every
            # frame crosses the whole data path, then is dropped there).
            d = Driver(card.socks[H])
            d.p.stdin.write("flood 0 %s\n" % raw(udp(H, SINK, b"F" * 64)).hex())
            d.p.stdin.flush()
            # It floods until the next line; before stopping it, see it and
            # the stream both under way (counters only, no clock).
            for _ in range(1200):
                c = card.counters()
                if c[H]["tx_frames"] >= 2000 and c[GB]["rx_frames"] >= 200:
                    break
                time.sleep(0.05)
            check(c[H]["tx_frames"] >= 2000 and c[GB]["rx_frames"] >= 200,
                  "the flood and the good stream run at the same time (%d flood frames, %d good)"
                  % (c[H]["tx_frames"], c[GB]["rx_frames"]))
            d.p.stdin.write("stop\n")
            d.p.stdin.flush()
            r = d.p.stdout.readline().split()
            flooded = int(r[1]) if r and r[0] == "flooded" else 0
            check(flooded >= 2000, "hostile: flooded %d frames" % flooded)
            for k in OVERSIZE:
                check(d.cmd("hostile 0 " + k) == "ok", "hostile: %s posted" % k)
            # The ring lives on after an oversized frame: a well-formed
            # frame after them is switched (to the sink, counted there).
            check(d.cmd("send 0 " + raw(udp(H, SINK, b"after the oversized ones")).hex()) == "ok",
                  "hostile: a well-formed frame after the oversized ones")
            wait_count(card, SINK, "drop_rx_full", flooded + 1)
            check(d.close() == 0, "hostile frontend done")

            # Each ring-stopping abuse on its own connection, closed once
            # the card has met it.
            for i, k in enumerate(BREAKING):
                d = Driver(card.socks[H])
                check(d.cmd("hostile 0 " + k) == "ok", "hostile: %s posted" % k)
                wait_count(card, H, "drop_bad_header", i + 1)
                d.close()
            # Receive buffers outside memory: a frame for the hostile ENI
            # (from good-a's peer, the sink cannot send) breaks its RX ring.
            d = Driver(card.socks[H])
            check(d.cmd("hostile 0 rxbad") == "ok", "hostile: receive buffers outside its memory")
            d2 = Driver(card.socks[SINK])
            d2.cmd("send 0 " + raw(udp(SINK, H, b"to the hostile ENI")).hex())
            wait_count(card, H, "drop_bad_header", len(BREAKING) + 1)
            d2.close()
            d.close()

            # Malformed vhost-user messages, each on its own connection.
            for what, data in PROTO_CUT.items():
                check(proto_garbage(card.socks[H], data) == "cut", "vhost-user: %s ends that connection" % what)
            for what, data in PROTO_REFUSED.items():
                check(proto_garbage(card.socks[H], data) == "answered",
                      "vhost-user: %s is refused, the connection goes on" % what)

            # The stream ends only now: everything above ran beside it.
            stream.stdin.close()
            out = stream.stdout.read()
            rc = stream.wait(timeout=120)
            stream = None
            kv = dict(re.findall(r"(\w+)=(\d+)", out))
            check(rc == 0 and int(kv.get("recv", 0)) == int(kv.get("sent", -1)) > 0 and kv.get("bad") == "0",
                  "the good pair's stream arrived whole, in order, unaltered: %s" % out.strip())

            # A well-behaved frontend on the hostile ENI's socket is served.
            g = Driver(card.socks[GB])   # good-b's stream frontend has gone: reuse its socket
            d = Driver(card.socks[H])
            d.cmd("send 0 " + raw(udp(H, GB, b"reformed-2")).hex())
            r = g.cmd("recv 0").split()
            check(r[0] == "frame" and Ether(bytes.fromhex(r[2]))[UDP].load == b"reformed-2",
                  "its frame reaches good-b: the card still serves the ENI it stopped")
            d.close()
            g.close()

            c = card.counters()
            check(c[H]["drop_bad_header"] == len(BREAKING) + 1,
                  "each ring-stopping abuse, the receive ring's included, counted once on the hostile ENI "
                  "(drop_bad_header=%d)" % c[H]["drop_bad_header"])
            check(c[H]["drop_oversize"] == len(OVERSIZE), "the 64 KiB frame and the long chain counted (drop_oversize=%d)"
                  % c[H]["drop_oversize"])
            check(c[SINK]["drop_rx_full"] == flooded + 1,
                  "the flood and the frame after the oversized ones dropped at the sink, counted (%d)" % c[SINK]["drop_rx_full"])
            check(all(c[i]["drop_bad_header"] == 0 and c[i]["drop_oversize"] == 0 and c[i]["drop_malformed"] == 0
                      for i in (GA, GB)), "nothing counted against the good pair")
            check(c[GA]["drop_rx_full"] == 0 and c[GB]["drop_rx_full"] == 0, "the good pair lost no frame")
        finally:
            if stream:
                stream.kill()
            card.proc.send_signal(signal.SIGTERM)
            rc = card.proc.wait(timeout=60)
            card.logf.close()
            log = open(card.log).read()
        check(rc == 0, "ward-net survived and exits cleanly on SIGTERM")
        # The field as a log parser reads it: broken="REASON" (quotes not escaped).
        broken = re.findall(r' broken="([^"\\]*)"', log)
        check(len(broken) == len(BREAKING) + 1, "each stopped ring logged with its reason (%d): %s" % (len(broken), broken))
        check("sandbox=on" in log, "ran sandboxed")
        if FAILS:
            print(log[-6000:])
    if FAILS:
        print("%d checks failed" % len(FAILS))
        sys.exit(1)


if __name__ == "__main__":
    main()
