#!/usr/bin/python3
# tests/net: a card dies under real guests. Two QEMU guests (net-check
# server and client, as in qemu_test.py, KVM or TCG) talk through one
# ward-net; their vhost-user chardevs have reconnect=1, as a VMM that
# survives its backend must. In the middle of the client's paced ping
# series ward-net is killed (SIGKILL) and started again on the same socket
# paths. Checked: the guests lose the network and get it back from the new
# card without rebooting: every ping of the series is answered in the end
# (each resent every second while the card is away), and the TCP transfer
# that follows, 256 KiB each way, runs through the new card (its counters
# show the frames). DHCP leases and ARP entries live in the guests; the
# new card needs neither.
import json, os, re, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemu_test as q  # noqa: E402  (Guest, check, ACCEL, ENIS, CONFIG)

check = q.check


class Card:
    """ward-net from a config file with --eni paths: restartable in place."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.cfg = os.path.join(tmp, "vpc.json")
        config = json.loads(json.dumps(q.CONFIG))
        # ICMP allowed from the start: a restarted card has only its config
        config["security_groups"][1]["ingress"].append({"proto": "icmp", "cidr": "10.0.0.0/16"})
        with open(self.cfg, "w") as f:
            json.dump(config, f)
        self.sock = {k: os.path.join(tmp, e[0] + ".sock") for k, e in q.ENIS.items()}
        self.n = 0
        self.start()

    def start(self):
        self.n += 1
        for s in self.sock.values():   # the paths a dead card left behind
            if os.path.exists(s):
                os.unlink(s)
        self.log = os.path.join(self.tmp, "ward-net-%d.log" % self.n)
        self.logf = open(self.log, "w")
        args = [os.path.join(q.BUILD, "src/net/ward-net"), "--config", self.cfg]
        for k, e in q.ENIS.items():
            args += ["--eni", "%s=%s" % (e[0], self.sock[k])]
        self.proc = subprocess.Popen(args, stderr=self.logf)
        for _ in range(600):   # hang guard: ready once every socket is bound
            if "ward-net ready" in open(self.log).read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        sys.exit("ward-net did not start: " + open(self.log).read())

    def stop(self):
        """SIGTERM; the counters it logs on the way out, by ENI id."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.logf.close()
        out = {}
        for l in open(self.log):
            if 'msg="counters"' in l:
                kv = dict(re.findall(r"(\w+)=(\S+)", l))
                out[kv["eni"]] = {k: int(v) for k, v in kv.items() if v.isdigit()}
        return rc, out


def main():
    if subprocess.run(["sh", "-c", "command -v qemu-system-x86_64"], stdout=subprocess.DEVNULL).returncode:
        print("SKIP: qemu-system-x86_64 is not installed")
        sys.exit(77)
    print("accelerator: " + ("kvm" if q.ACCEL[0] == "-enable-kvm" else "tcg (no usable /dev/kvm)"), flush=True)
    guests = []
    with tempfile.TemporaryDirectory(prefix="ward-net-qrestart-") as tmp:
        card = Card(tmp)
        try:
            srv = q.Guest(card, "s", "server", "mode=server port=7 conns=1 secs=150", timeout=170, reconnect=True)
            guests.append(srv)
            check(srv.wait_line("net-check: server: listening on 10.0.2.10:7"), "server guest up on the first card")
            cl = q.Guest(card, "c", "client", "mode=client secs=120 peer=10.0.2.10 ping=40 ping_interval_ms=150 "
                         "tcp=262144 port=7", timeout=140, reconnect=True)
            guests.append(cl)
            check(cl.wait_line("net-check: ping: reply 3"), "client guest: 4 pings answered by the first card")
            card.proc.kill()           # kill -9 of the card, mid-series
            card.proc.wait()
            card.logf.close()
            first_log = card.log
            card.start()
            c_rc = cl.finish()
            s_rc = srv.finish()
            guests = []
            check(c_rc == 0, "client guest: all 40 pings answered in the end and 256 KiB each way over TCP, "
                  "with no reboot (exit %s)" % c_rc)
            check(s_rc == 0, "server guest: the connection verified and answered (exit %s)" % s_rc)
            check("sent=40 received=40" in cl.text(), "every ping of the series came back")
        finally:
            for g in guests:
                g.kill()
                g.finish()
        rc, counters = card.stop()
        c = counters.get("eni-c", {})
        check(rc == 0 and c.get("tx_frames", 0) > 60 and c.get("rx_frames", 0) > 60,
              "the restarted card carried the client's traffic, its TCP segments at least (eni-c tx_frames=%s rx_frames=%s)" %
              (c.get("tx_frames"), c.get("rx_frames")))
        if q.FAILS:
            for log in (first_log, card.log):
                print("--- %s:\n%s" % (log, open(log).read()[-3000:]))
    if q.FAILS:
        print("%d checks failed" % len(q.FAILS))
        sys.exit(1)


if __name__ == "__main__":
    main()
