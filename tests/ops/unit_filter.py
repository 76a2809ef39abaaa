#!/usr/bin/env python3
# unit_filter.py UNIT SOURCE...: every system call named SCMP_SYS(x) in the
# SOURCEs (a daemon's own seccomp allowlist) plus the calls of its lockdown
# must pass the unit's SystemCallFilter= (as systemd-analyze expands its
# groups), or the daemon would fail under systemd where it works by hand.
import re, subprocess, sys

LOCKDOWN = {'prctl', 'setrlimit', 'seccomp', 'landlock_create_ruleset',
            'landlock_add_rule', 'landlock_restrict_self'}

def groups():
    out = subprocess.run(['systemd-analyze', 'syscall-filter'], check=True,
                         capture_output=True, text=True).stdout
    g, cur = {}, None
    for line in out.splitlines():
        s = line.strip()
        if line.startswith('@'):
            cur = g.setdefault(s.split()[0], [])
        elif s and not s.startswith('#') and cur is not None:
            cur.append(s)
    return g

def expand(g, names):
    out = set()
    for n in names:
        if n.startswith('@'):
            if n not in g:
                sys.exit(f'unknown group {n} in the unit')
            out |= expand(g, g[n])
        else:
            out.add(n)
    return out

def main():
    unit, srcs = sys.argv[1], sys.argv[2:]
    g = groups()
    allow, deny = set(), set()
    for line in open(unit):
        m = re.match(r'SystemCallFilter=(~?)(.*)', line.strip())
        if m:
            (deny if m.group(1) else allow).update(expand(g, m.group(2).split()))
    if not allow:
        sys.exit(f'{unit}: no SystemCallFilter allow list')
    need = set(LOCKDOWN)
    for src in srcs:
        need |= set(re.findall(r'SCMP_SYS\((\w+)\)', open(src).read()))
    passed = allow - deny
    missing = sorted(need - passed)
    if missing:
        sys.exit(f'{unit}: its filter refuses calls the daemon makes: {" ".join(missing)}')
    print(f'{unit}: all {len(need)} calls of the allowlist and lockdown pass '
          f'(filter allows {len(passed)})')

main()
