#!/usr/bin/env python3
# fuzz/crypto/make_corpus.py: writes the seed corpora of fuzz_checkpoint and
# fuzz_merkle_proof. The Merkle proofs come from an independent Python
# rendering of RFC 9162 §2.1; the Ed25519 note is signed with the harness's
# fixed key (seed 32 x 0x42). Needs python3-cryptography.
import base64, hashlib, os, struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

here = os.path.dirname(os.path.abspath(__file__))
EM = "\u2014"


def write(d, name, data):
    os.makedirs(os.path.join(here, d), exist_ok=True)
    with open(os.path.join(here, d, name), "wb") as f:
        f.write(data)


# --- checkpoints -----------------------------------------------------------
# Real ECDSA P-256 checkpoints (transparency-dev/formats note tests).
rekor = ("Rekor\n798034\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n\n" + EM +
         " rekor.sigstore.dev wNI9ajBEAiARInWIWyCdyG27CO6LPnPekyw20qO0YJfoaPaowGp/"
         "XgIgc+qEHS3+GKVClgqq20uDLet7MCoTURUCRdxwWBHHufk=\n")
pixel = ("DEFAULT\n10\nbsWRucJU5xJPHb5eBdOm6+DM+VelCZBuvtI3sHERJ9Y=\n\n" + EM +
         " pixel6_transparency_log kcFuMDBFAiEAhqMAP8P6qf6QxtUJhzMhbN+MbZ9dwfUHzGQJmffJHt"
         "oCIGD0cNe47dHWBoPwYdgBCepB06/+g5O1FmYjXl06owL4\n")
write("corpus-checkpoint", "rekor", rekor.encode())
write("corpus-checkpoint", "pixel", pixel.encode())

sk = Ed25519PrivateKey.from_private_bytes(b"\x42" * 32)
pub = sk.public_key().public_bytes_raw()
name = "fuzz.example/log"
key_id = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
root = base64.b64encode(hashlib.sha256(b"").digest()).decode()


def sign(body, names):
    lines = []
    for n in names:
        kid = key_id if n == name else hashlib.sha256(n.encode()).digest()[:4]
        lines.append(EM + " " + n + " " + base64.b64encode(kid + sk.sign(body.encode())).decode() + "\n")
    return (body + "\n" + "".join(lines)).encode()


write("corpus-checkpoint", "ed25519", sign(name + "\n3\n" + root + "\n", [name]))
write("corpus-checkpoint", "ed25519-ext-cosigned",
      sign(name + "\n18446744073709551615\n" + root + "\nextension\n", ["witness.example/w1", name]))
write("corpus-checkpoint", "bad-size", sign(name + "\n007\n" + root + "\n", [name]))
write("corpus-checkpoint", "no-signature", (name + "\n0\n" + root + "\n\n").encode())

# --- Merkle proofs over the harness's 37-leaf tree -------------------------
N = 37
leaves = [hashlib.sha256(b"\x00" + struct.pack("<Q", i)).digest() for i in range(N)]


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(d):
    if len(d) == 1:
        return d[0]
    k = 1
    while k * 2 < len(d):
        k *= 2
    return node(mth(d[:k]), mth(d[k:]))


def path(m, d):
    if len(d) == 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):
    if m == len(d):
        return [] if b else [mth(d)]
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def entry(kind, a, b, proof):
    return bytes([kind]) + struct.pack("<QQ", a, b) + b"".join(proof)


for i, s in [(0, 1), (5, 8), (13, 37), (36, 37), (2, 3)]:
    write("corpus-merkle_proof", "inclusion-%d-%d" % (i, s), entry(0, i, s, path(i, leaves[:s])))
for s1, s2 in [(1, 8), (6, 8), (3, 37), (16, 37), (36, 37)]:
    write("corpus-merkle_proof", "consistency-%d-%d" % (s1, s2),
          entry(1, s1, s2, subproof(s1, leaves[:s2], True)))
write("corpus-merkle_proof", "raw-huge", entry(3, 2**63 - 1, 2**64 - 1, leaves[:5]))
