#!/usr/bin/env python3
"""make_corpus: writes the seed corpus of fuzz_boot_loader — a tiny PVH
ELF64 and ELF32 and a tiny fake bzImage, each behind the harness's 4-byte
prefix (vCPU count, initrd length, command-line length) with a short
command line and initrd. Usage: make_corpus.py OUTDIR"""
import os
import struct
import sys

LOAD = 0x100000


def prefix(cmdline, initrd):
    return struct.pack('<BHB', 1, len(initrd), len(cmdline)) + cmdline + initrd


def pvh_elf(is64):
    code = bytes([0x89, 0xd8, 0x66, 0xba, 0xf4, 0x00, 0xef, 0xf4])
    phoff, note_off, code_off = 64, 0x100, 0x200
    buf = bytearray(code_off + 0x40)
    buf[0:7] = b'\x7fELF' + bytes([2 if is64 else 1, 1, 1])
    if is64:
        struct.pack_into('<HHIQQQIHHH', buf, 16, 2, 62, 1, LOAD, phoff, 0, 0,
                         64, 56, 2)
        struct.pack_into('<IIQQQQQQ', buf, phoff, 1, 5, code_off, LOAD, LOAD,
                         0x40, 0x1000, 0x1000)
        struct.pack_into('<IIQQQQQQ', buf, phoff + 56, 4, 4, note_off, 0, 0,
                         20, 20, 4)
    else:
        struct.pack_into('<HHIIIIIHHH', buf, 16, 2, 3, 1, LOAD, phoff, 0, 0,
                         52, 32, 2)
        struct.pack_into('<IIIIIIII', buf, phoff, 1, code_off, LOAD, LOAD,
                         0x40, 0x1000, 5, 0x1000)
        struct.pack_into('<IIIIIIII', buf, phoff + 32, 4, note_off, 0, 0,
                         20, 20, 4, 4)
    struct.pack_into('<III4sI', buf, note_off, 4, 4, 18, b'Xen\0', LOAD)
    buf[code_off:code_off + len(code)] = code
    return bytes(buf)


def bzimage():
    setup_sects, pm_size = 1, 0x400
    buf = bytearray((setup_sects + 1) * 512 + pm_size)
    buf[0x1f1] = setup_sects
    struct.pack_into('<I', buf, 0x1f4, pm_size // 16)
    struct.pack_into('<H', buf, 0x1fe, 0xaa55)
    buf[0x200:0x202] = bytes([0xeb, 0x268 - 0x202])
    buf[0x202:0x206] = b'HdrS'
    struct.pack_into('<H', buf, 0x206, 0x020f)
    buf[0x211] = 0x01
    struct.pack_into('<I', buf, 0x214, LOAD)
    struct.pack_into('<IIB', buf, 0x22c, 0x7fffffff, 0x200000, 1)
    struct.pack_into('<HI', buf, 0x236, 0x3, 2047)
    struct.pack_into('<QI', buf, 0x258, 0x1000000, 0x100000)
    buf[1024 + 0x200] = 0xf4
    return bytes(buf)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        'pvh_elf64': prefix(b'console=ttyS0', b'initrd') + pvh_elf(True),
        'pvh_elf32': prefix(b'', b'') + pvh_elf(False),
        'bzimage': prefix(b'console=ttyS0 quiet', b'rd' * 8) + bzimage(),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
