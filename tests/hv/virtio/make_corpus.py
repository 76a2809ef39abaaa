#!/usr/bin/env python3
"""Seed corpus for fuzz_virtio_pci (see its header for the input format).
Run from this directory: ./make_corpus.py  (writes corpus/)."""
import os
import struct

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(D, exist_ok=True)


def rec(op, ln, off, val):
    return struct.pack("<BBHQ", op, ln, off, val)


def cfgaddr(slot, reg):
    return slot << 8 | reg


seeds = {
    # guest: bring queue 0 up, signal a call, read ISR, reset
    "bringup": b"\0" + rec(6, 0, 0, 0x10000) + rec(5, 0, 0, 0) +
    rec(3, 0, 0x1000, 0) + rec(2, 0, 0x14, 0),
    # guest: BAR sizing, move, memory disable, back
    "bar": b"\0" + rec(0, 2, cfgaddr(1, 0x10), 0xffffffff) + rec(1, 2, cfgaddr(1, 0x10), 0) +
    rec(0, 2, cfgaddr(1, 0x10), 0xd8000000) + rec(0, 1, cfgaddr(1, 0x04), 0) +
    rec(0, 1, cfgaddr(1, 0x04), 6) + rec(4, 1, 0x14, 0xd8000014),
    # guest: MSI-X on, vector for queue 0, unmask, bring up, call
    "msix": b"\0" + rec(0, 1, cfgaddr(1, 0x86), 0x8000) + rec(2, 1, 0x1a, 0) +
    rec(2, 2, 0x4000, 0xfee00000) + rec(2, 2, 0x400c, 0) + rec(6, 0, 0, 0x20000) +
    rec(5, 0, 0, 0) + rec(3, 3, 0x5000, 0),
    # guest: hostile queue setup — bad sizes, selectors, rings past RAM
    "hostile": b"\0" + rec(2, 1, 0x16, 9) + rec(2, 1, 0x18, 3) + rec(2, 1, 0x1c, 1) +
    rec(6, 0, 0, 0x1ffff0) + rec(2, 0, 0x14, 0) + rec(6, 0, 0, 0x10008),
}

# backend: a correct reply stream for the handshake and bring-up
def reply(req, payload):
    return struct.pack("<III", req, 0x5, len(payload)) + payload

u64 = lambda v: struct.pack("<Q", v)
stream = (reply(1, u64(1 << 32 | 1 << 30)) + reply(15, u64(1 << 3 | 1 << 9)) +
          reply(16, u64(0)) + reply(3, u64(0)) + reply(5, u64(0)) +
          reply(24, struct.pack("<III", 0, 60, 0) + b"\x80" + b"\0" * 59))
seeds["backend-ok"] = b"\1" + stream
seeds["backend-short"] = b"\1" + stream[:40]
seeds["backend-wrong-req"] = b"\1" + reply(2, u64(1 << 32))
seeds["backend-huge"] = b"\1" + struct.pack("<III", 1, 0x5, 0xffffffff)

for name, data in seeds.items():
    with open(os.path.join(D, name), "wb") as f:
        f.write(data)
