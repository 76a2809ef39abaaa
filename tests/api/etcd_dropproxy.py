#!/usr/bin/python3
# etcd_dropproxy: a TCP forwarder to one etcd member that loses the replies
# of chosen write Txns, for tests/api/ha_resend.sh (docs/ha.md). It listens
# on two loopback ports (ward-api is given both as its etcd endpoints) and
# forwards every byte both ways. A POST /v3/kv/txn whose success branch puts
# a key under ward/data/<PREFIX> (each PREFIX once; a PREFIX written
# !PREFIX: every time) is forwarded whole;
# when etcd's answer begins (etcd has decided the Txn), the client's
# connection is closed without a byte of it. Each drop is logged to LOG.
# usage: etcd_dropproxy.py PORTS_FILE UPSTREAM_HOST:PORT LOG PREFIX...
import base64
import json
import os
import socket
import sys
import threading

ports_file, upstream, log_path, prefixes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
up_host, up_port = upstream.rsplit(":", 1)
lock = threading.Lock()
pending = list(prefixes)


def trigger(head, body):
    """The prefix this request's Txn writes under, if it is one to drop."""
    if not head.startswith(b"POST /v3/kv/txn "):
        return None
    try:
        req = json.loads(body)
        keys = [base64.b64decode(op["request_put"]["key"]).decode()
                for op in req.get("success", []) if "request_put" in op]
    except (ValueError, KeyError, TypeError):
        return None
    with lock:
        for p in pending:
            always = p.startswith("!")
            if any(k.startswith("ward/data/" + p.lstrip("!")) for k in keys):
                if not always:
                    pending.remove(p)
                return p.lstrip("!")
    return None


class Conn:
    def __init__(self, cli):
        self.cli = cli
        self.up = socket.create_connection((up_host, int(up_port)))
        self.drop = None        # the prefix whose reply is to be lost
        self.buf = b""

    def requests(self):
        """Complete requests in buf (HTTP/1.1, Content-Length bodies)."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            n = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v.strip())
            if len(self.buf) < end + 4 + n:
                return
            body = self.buf[end + 4:end + 4 + n]
            self.buf = self.buf[end + 4 + n:]
            p = trigger(head, body)
            if p:
                self.drop = p

    def to_up(self):
        try:
            while True:
                d = self.cli.recv(65536)
                if not d:
                    break
                self.buf += d
                self.up.sendall(d)
                self.requests()
        except OSError:
            pass
        self.close()

    def to_cli(self):
        try:
            while True:
                d = self.up.recv(65536)
                if not d:
                    break
                if self.drop and not d.startswith(b"HTTP/1.1 100"):
                    with open(log_path, "a") as f:
                        f.write("dropped %s\n" % self.drop)
                    break
                self.cli.sendall(d)
        except OSError:
            pass
        self.close()

    def close(self):
        for s in (self.cli, self.up):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(ls):
    while True:
        cli, _ = ls.accept()
        try:
            c = Conn(cli)
        except OSError:
            cli.close()
            continue
        threading.Thread(target=c.to_up, daemon=True).start()
        threading.Thread(target=c.to_cli, daemon=True).start()


socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    socks.append(s)
with open(ports_file + ".tmp", "w") as f:
    f.write(" ".join(str(s.getsockname()[1]) for s in socks) + "\n")
os.rename(ports_file + ".tmp", ports_file)
threading.Thread(target=serve, args=(socks[1],), daemon=True).start()
serve(socks[0])
