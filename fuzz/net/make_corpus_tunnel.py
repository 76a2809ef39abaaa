#!/usr/bin/env python3
"""Seed corpus for fuzz_tunnel_decap: underlay packets built from
docs/formats.md "Underlay" with python's cryptography (not ward's code), so
the seeds double as an interop check of the documented format. Mode byte
first (see the harness), then the UDP payload."""
import os, struct, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'corpus-tunnel_decap')
os.makedirs(out, exist_ok=True)
m = bytes((0x11 + i * 7) & 0xff for i in range(72))
k_i2r, s_i2r = m[0:32], m[64:68]
VNI = 0xabcd

def frame(src, dst, payload):
    ip = bytearray(20); ip[0] = 0x45; ip[9] = 17
    ip[12:16] = bytes(src); ip[16:20] = bytes(dst)
    return bytes.fromhex('020000000002020000000001') + b'\x08\x00' + bytes(ip) + payload

def sealed(epoch, seq, f, vni=VNI):
    hdr = bytes([0x04, 0x40]) + struct.pack('>H', 0x6558) + struct.pack('>I', vni << 8)
    hdr += struct.pack('>HBB', 0xFFF0, 0xD7, 3) + struct.pack('>IQ', epoch, seq)
    nonce = s_i2r + struct.pack('>Q', seq)
    return hdr + AESGCM(k_i2r).encrypt(nonce, f, hdr)

def plain(f, vni=VNI):
    return bytes([0, 0]) + struct.pack('>H', 0x6558) + struct.pack('>I', vni << 8) + f

good = frame([10, 0, 0, 1], [10, 0, 0, 2], b'hello underlay')
seeds = {
    'sealed_ok': b'\x00' + sealed(1, 1, good),
    'sealed_seq_big': b'\x00' + sealed(1, 1 << 40, good),
    'sealed_spoofed': b'\x00' + sealed(1, 2, frame([10, 0, 0, 3], [10, 0, 0, 2], b'x' * 30)),
    'sealed_wrong_epoch': b'\x00' + sealed(2, 1, good),
    'sealed_unknown_src': b'\x02' + sealed(1, 1, good),
    'plain_ok': b'\x01' + plain(good),
    'plain_refused': b'\x00' + plain(good),
    'short': b'\x00' + bytes([4, 0x40, 0x65, 0x58]),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
