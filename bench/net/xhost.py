#!/usr/bin/python3
# bench/net/xhost.py: ward-net across hosts, encrypted. Two hosts are two
# network namespaces joined by a veth with a 9216-byte MTU (a jumbo
# underlay, as a VPC's hosts have); each runs a sandboxed ward-net with its
# host certificate, its underlay sockets passed in, PEER and MAP over
# netctl, exactly as tests/net/xhost_test.py sets them up (its Host class
# is reused). tests/net/vu_net_load sends from host A's ENI (security
# group: all outbound) to host B's (inbound from the VPC): every frame is
# checked on A, Geneve-encapsulated, AES-256-GCM sealed, sent over the veth,
# opened, replay-checked and checked again on B. Prints a table, writes
# JSON, last line: net_xhost_gbps=G (9015-byte frames, Gbit/s per card
# core: the lower of A's sealed-and-sent and B's opened-and-delivered bits
# per second of that card's CPU time; pps/gbps columns are what the
# frontend received per second of wall time, on a shared 2-core machine).
# Usage: xhost.py BUILD_DIR OUT_JSON
import json, os, re, socket, subprocess, sys, tempfile, time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
OUT_JSON = sys.argv[2] if len(sys.argv) > 2 else os.path.join(BUILD, "bench/net/xhost.json")
SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
os.environ["WARD_BUILD_ROOT"] = BUILD
os.environ["WARD_SOURCE_ROOT"] = SRC
sys.path.insert(0, os.path.join(SRC, "tests/net"))
import xhost_test as X  # noqa: E402

SECS = os.environ.get("BENCH_SECS", "3")
LAT_N = os.environ.get("BENCH_LAT_N", "20000")
SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "64 1514 9015").split()]   # 9015 is required
NCPU = os.cpu_count() or 1
CPU_A, CPU_B, CPU_DRV = (1, 1, 0) if NCPU == 2 else (1, 2, 0) if NCPU > 2 else (0, 0, 0)


def underlay_sockets(addr, _orig=X.underlay_sockets):
    """The test's sockets, with 4 MiB socket buffers (SO_RCVBUFFORCE: root
    may pass net.core.rmem_max). With the 208 KiB default the receiving
    card's socket holds about 14 jumbo datagrams, and whatever arrives
    while that card waits for its core is lost in the kernel."""
    u, k = _orig(addr)
    u.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)   # SO_RCVBUFFORCE
    u.setsockopt(socket.SOL_SOCKET, 32, 4 << 20)   # SO_SNDBUFFORCE
    return u, k


X.underlay_sockets = underlay_sockets


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def start_host(tmp, name, ns, eni):
    # env= makes Host start ward-net without its scapy driver: this bench
    # brings its own frontend.
    h = X.Host(tmp, name, ns, [eni], env=dict(os.environ))
    h.seq, h.ndump = 0, 0
    h.wait_log("ward-net ready", 1)
    return h


def main():
    if os.geteuid() != 0:
        sys.exit("xhost.py: needs root (network namespaces)")
    nsa, nsb = "ward-xb-%d-a" % os.getpid(), "ward-xb-%d-b" % os.getpid()
    va, vb = "xb%da" % os.getpid(), "xb%db" % os.getpid()
    hosts, rows = [], {}
    with tempfile.TemporaryDirectory(prefix="ward-xbench-") as tmp:
        os.chmod(tmp, 0o755)
        try:
            subprocess.run(["ip", "netns", "add", nsa], check=True)
            subprocess.run(["ip", "netns", "add", nsb], check=True)
            subprocess.run(["ip", "link", "add", va, "type", "veth", "peer", "name", vb], check=True)
            for ns, dev, name, addr in ((nsa, va, "va", "198.18.0.1/24"), (nsb, vb, "vb", "198.18.0.2/24")):
                for c in (["link", "set", dev, "netns", ns, "name", name], ["-n", ns, "addr", "add", addr, "dev", name],
                          ["-n", ns, "link", "set", name, "mtu", "9216"],
                          ["-n", ns, "link", "set", "lo", "up"], ["-n", ns, "link", "set", name, "up"]):
                    subprocess.run(["ip"] + c, check=True)
            subprocess.run(["bash", os.path.join(SRC, "tests/net/tunnel_pki.sh"), os.path.join(tmp, "pki")], check=True)
            a = start_host(tmp, "hostA", nsa, "eni-a")
            hosts.append(a)
            b = start_host(tmp, "hostB", nsb, "eni-b1")
            hosts.append(b)
            subprocess.run(["taskset", "-a", "-p", "-c", str(CPU_A), str(a.proc.pid)], check=True, capture_output=True)
            subprocess.run(["taskset", "-a", "-p", "-c", str(CPU_B), str(b.proc.pid)], check=True, capture_output=True)
            for h, other in ((a, "hostB"), (b, "hostA")):
                st, msg = h.peer(other, X.UNDERLAY[other])
                assert st == 0, msg
                for e in ("eni-a", "eni-b1"):
                    st, msg = h.map(X.E[e][4], "vpc-a", X.VNI["vpc-a"], X.ip(e))
                    assert st == 0, msg
            for _ in range(1200):   # the key exchange (readiness only)
                if b.counters()["underlay"]["resp_ok"] >= 1 and a.counters()["underlay"]["init_ok"] >= 1:
                    break
                time.sleep(0.05)
            load = os.path.join(BUILD, "tests/net/vu_net_load")
            ep = lambda e: "%s,%s" % (X.mac(e), X.ip(e))
            for sz in SIZES:
                ka, kb = a.counters()["underlay"]["tx_sent"], b.counters()["eni-b1"]["rx_frames"]
                ca, cb = cpu_s(a.proc.pid), cpu_s(b.proc.pid)
                args = ["taskset", "-c", str(CPU_DRV), load, "--tx", a.socks[0], "--rx", b.socks[0],
                        "--size", str(sz), "--seconds", SECS, "--src", ep("eni-a"), "--dst", ep("eni-b1")]
                if sz == 9015:
                    args += ["--lat", LAT_N]
                out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
                kv = dict(re.findall(r"(\w+)=([\d.]+)", out))
                ca, cb = cpu_s(a.proc.pid) - ca, cpu_s(b.proc.pid) - cb
                ka = a.counters()["underlay"]["tx_sent"] - ka
                kb = b.counters()["eni-b1"]["rx_frames"] - kb
                # Per core: A's frames sealed and sent per second of A's
                # CPU, B's frames opened and delivered per second of B's;
                # the pair, one core per card, runs at the lower of the two.
                ga = ka * sz * 8 / ca / 1e9 if ca else 0
                gb = kb * sz * 8 / cb / 1e9 if cb else 0
                rows[sz] = {"pps": float(kv["pps"]), "gbps": float(kv["gbps"]), "cpu_s_a": round(ca, 2),
                            "cpu_s_b": round(cb, 2), "sent_a": ka, "delivered_b": kb,
                            "seal_gbps_per_core": round(ga, 3), "open_gbps_per_core": round(gb, 3),
                            "gbps_per_core": round(min(ga, gb), 3)}
                if sz == 9015:
                    rows[sz]["lat_p50_us"] = float(kv["lat_p50_us"])
                    rows[sz]["lat_p99_us"] = float(kv["lat_p99_us"])
            # Where frames were lost (the loss is what limits these figures).
            ca, cb = a.counters(), b.counters()
            rows["counters"] = {
                "a": dict({k: ca["eni-a"][k] for k in ("tx_frames", "tx_underlay", "drop_underlay", "drop_filter")},
                          **{k: ca["underlay"][k] for k in ("tx_sent", "tx_send_fail")}),
                "b": dict({k: cb["eni-b1"][k] for k in ("rx_underlay", "rx_frames", "drop_rx_full", "drop_filter")},
                          **{k: cb["underlay"][k] for k in ("rx_datagrams", "tunnel_rx_auth_fail", "tunnel_rx_replay")})}
        finally:
            for h in hosts:
                h.proc.terminate()
                try:
                    h.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    h.proc.kill()
                h.logf.close()
            subprocess.run(["ip", "netns", "del", nsa], capture_output=True)
            subprocess.run(["ip", "netns", "del", nsb], capture_output=True)
    print("across hosts, AES-256-GCM over Geneve, %s s per size; card A on CPU %d, card B on CPU %d, frontend on CPU %d"
          % (SECS, CPU_A, CPU_B, CPU_DRV))
    print("%-6s %9s %7s %8s %8s %9s %9s %9s %9s" % ("frame", "pps", "gbps", "sent_A", "deliv_B", "cpuA_s", "cpuB_s",
                                                   "A_gbps/c", "B_gbps/c"))
    for sz in SIZES:
        r = rows[sz]
        print("%-6d %9.0f %7.3f %8d %8d %9.2f %9.2f %9.3f %9.3f" % (sz, r["pps"], r["gbps"], r["sent_a"], r["delivered_b"],
              r["cpu_s_a"], r["cpu_s_b"], r["seal_gbps_per_core"], r["open_gbps_per_core"]))
    print("latency (9015 B, one frame in flight): p50 %.1f us, p99 %.1f us" % (rows[9015]["lat_p50_us"], rows[9015]["lat_p99_us"]))
    print("card A: %s" % rows["counters"]["a"])
    print("card B: %s" % rows["counters"]["b"])
    os.makedirs(os.path.dirname(os.path.abspath(OUT_JSON)), exist_ok=True)
    with open(OUT_JSON, "w") as f:
        json.dump({str(k): v for k, v in rows.items()}, f)
    print("net_xhost_gbps=%.2f" % rows[9015]["gbps_per_core"])


if __name__ == "__main__":
    main()
