#!/usr/bin/python3
# memscan.py PID KEYFILE present|present-locked|absent: search every readable
# mapping of PID for either 32-byte half of the 64-byte XTS key. Exit 0 when
# the result is the expected one; present-locked also requires every mapping
# that holds a copy to be locked (never swapped) and excluded from core
# dumps (VmFlags lo and dd). Pages that cannot be read (memfd_secret) are
# skipped.
import re, sys

pid, keyfile, want = sys.argv[1], sys.argv[2], sys.argv[3]
key = open(keyfile, 'rb').read()
halves = [key[:32], key[32:]]
found = []
with open(f'/proc/{pid}/maps') as maps, open(f'/proc/{pid}/mem', 'rb', 0) as mem:
    for line in maps:
        m = re.match(r'([0-9a-f]+)-([0-9a-f]+) (\S+)', line)
        lo, hi, perm = int(m[1], 16), int(m[2], 16), m[3]
        # Sanitizer shadow/reserved areas are huge and never hold heap data.
        if perm[0] != 'r' or '[vvar]' in line or '[vsyscall]' in line or hi - lo > 1 << 30:
            continue
        step, prev = 64 << 20, b''
        for off in range(lo, hi, step):
            try:
                mem.seek(off)
                data = mem.read(min(step, hi - off))
            except OSError:
                break
            chunk, prev = prev + data, data[-31:]
            for i, h in enumerate(halves):
                if h in chunk and (i, line.strip()) not in found:
                    found.append((i, line.strip()))
print(f'{want}: found {len(found)} copies', *found, sep='\n  ')
if want == 'present-locked':
    flags, cur = {}, None
    for line in open(f'/proc/{pid}/smaps'):
        if re.match(r'[0-9a-f]+-[0-9a-f]+ ', line):
            cur = line.split()[0]
        elif line.startswith('VmFlags:'):
            flags[cur] = line.split()[1:]
    bad = [l for _, l in found if not {'lo', 'dd'} <= set(flags.get(l.split()[0], []))]
    for l in bad:
        print('  not locked or dumpable:', l, flags.get(l.split()[0]))
    sys.exit(0 if found and not bad else 1)
sys.exit(0 if (bool(found) == (want == 'present')) else 1)
