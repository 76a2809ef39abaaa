#!/usr/bin/python3
# make_corpus.py: writes the seed corpora for fuzz/blk (well-formed inputs
# the fuzzer mutates from). Run from this directory.
import os, struct

def msg(req, payload=b'', flags=1):
    return struct.pack('<III', req, flags, len(payload)) + payload

def ring_mem(num=16, chain=True, indirect=False):
    mem = bytearray(0x8000)
    if indirect:
        struct.pack_into('<QIHH', mem, 0, 0x3000, 32, 4, 0)
        struct.pack_into('<QIHH', mem, 0x3000, 0x4000, 16, 1, 1)
        struct.pack_into('<QIHH', mem, 0x3010, 0x5000, 4097, 2, 0)
    elif chain:
        struct.pack_into('<QIHH', mem, 0, 0x4000, 16, 1, 1)
        struct.pack_into('<QIHH', mem, 16, 0x5000, 4096, 3, 2)
        struct.pack_into('<QIHH', mem, 32, 0x6000, 1, 2, 0)
    struct.pack_into('<HHH', mem, 0x1000, 0, 1, 0)   # avail: flags, idx=1, ring[0]=0
    struct.pack_into('<QIQ', mem, 0x4000, 0, 0, 8)   # blk header: IN, sector 8
    return bytes(mem)

os.makedirs('corpus-vu_msg', exist_ok=True)
os.makedirs('corpus-virtq', exist_ok=True)
feat = (1 << 32) | (1 << 29) | (1 << 28) | (1 << 30)
uva = 0x7000000
seq = b''.join([
    msg(1), msg(15), msg(16, struct.pack('<Q', 0x209)), msg(3, flags=9),
    msg(2, struct.pack('<Q', feat), flags=9),
    msg(5, struct.pack('<II', 1, 0) + struct.pack('<QQQQ', 0, 0x8000, uva, 0), flags=9),
    msg(8, struct.pack('<II', 0, 16)), msg(10, struct.pack('<II', 0, 0)),
    msg(9, struct.pack('<IIQQQQ', 0, 0, uva, uva + 0x2000, uva + 0x1000, 0)),
    msg(13, struct.pack('<Q', 0)), msg(14, struct.pack('<Q', 0)), msg(12, struct.pack('<Q', 0)),
    msg(18, struct.pack('<II', 0, 1)),
    msg(24, struct.pack('<III', 0, 60, 0) + bytes(60)),
    msg(17),
])
open('corpus-vu_msg/handshake', 'wb').write(seq + ring_mem())
open('corpus-vu_msg/indirect', 'wb').write(seq + ring_mem(indirect=True))
open('corpus-vu_msg/get-vring-base', 'wb').write(seq + msg(11, struct.pack('<II', 0, 0)) + ring_mem())
open('corpus-virtq/chain', 'wb').write(bytes([4, 3, 0, 0]) + ring_mem())
open('corpus-virtq/indirect', 'wb').write(bytes([4, 3, 0, 0]) + ring_mem(indirect=True))
open('corpus-virtq/loop', 'wb').write(bytes([4, 1, 0, 0]) + struct.pack('<QIHH', 0x4000, 16, 1, 1) * 2)

# blkctl: first byte = fd selection (count in bits 0-1, kinds 0 socket,
# 1 memfd, 2 pipe in bits 2-3, 4-5, 6-7), then one packet.
os.makedirs('corpus-blkctl', exist_ok=True)
def ctl(typ, payload, seq=1):
    return struct.pack('<IHHII', 0x4b4c4257, 2, typ, seq, len(payload)) + payload
def attach(flags, export=b'', vid=b'vol-1'):
    return (vid.ljust(64, b'\0') + struct.pack('<QIHH', 1 << 20, flags, 1, len(export)) +
            bytes(range(64)) + export)
open('corpus-blkctl/attach-file', 'wb').write(bytes([2 | (0 << 2) | (1 << 4)]) + ctl(1, attach(1)))
open('corpus-blkctl/attach-nbd', 'wb').write(bytes([2 | (0 << 2) | (0 << 4)]) + ctl(1, attach(4, b'export')))
open('corpus-blkctl/detach', 'wb').write(bytes([0]) + ctl(2, b'vol-1'.ljust(64, b'\0')))
open('corpus-blkctl/stats', 'wb').write(bytes([0]) + ctl(4, b'vol-1'.ljust(64, b'\0')))
open('corpus-blkctl/stats-reply', 'wb').write(
    bytes([0]) + ctl(0x83, b'vol-1'.ljust(64, b'\0') + struct.pack('<22Q', *range(22))))
open('corpus-blkctl/reply', 'wb').write(bytes([0]) + ctl(0x81, struct.pack('<i', -2) + b'no'.ljust(200, b'\0')))
open('corpus-blkctl/event', 'wb').write(bytes([0]) + ctl(0x82, b'v'.ljust(64, b'\0') + struct.pack('<I', 1) + b'x'.ljust(200, b'\0')))
