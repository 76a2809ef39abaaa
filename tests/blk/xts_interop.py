#!/usr/bin/python3
# xts_interop.py KEY DISK FIRST:COUNT:PATTERN...: decrypt ward-blk sectors with
# python3-cryptography's AES-XTS (tweak = little-endian 4096-byte sector
# number, 16 bytes: dm-crypt plain64) and compare with the driver's pattern.
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SECT = 4096
key = open(sys.argv[1], 'rb').read()
assert len(key) == 64
disk = open(sys.argv[2], 'rb')

def pattern(sector, pat):
    line = b"WARD-PLAINTEXT sector=%08d pattern=%04x\n" % (sector, pat)
    return (line * (SECT // len(line) + 1))[:SECT]

bad = 0
for spec in sys.argv[3:]:
    first, count, pat = spec.split(':')
    for s in range(int(first), int(first) + int(count)):
        disk.seek(s * SECT)
        ct = disk.read(SECT)
        tweak = s.to_bytes(16, 'little')
        d = Cipher(algorithms.AES(key), modes.XTS(tweak)).decryptor()
        pt = d.update(ct) + d.finalize()
        if pt != pattern(s, int(pat, 16)):
            print(f"sector {s}: decrypted data does not match the guest's")
            bad += 1
print("checked", sys.argv[3:], "mismatches:", bad)
sys.exit(1 if bad else 0)
