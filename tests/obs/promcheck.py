#!/usr/bin/env python3
"""promcheck: checks a Prometheus text exposition (format 0.0.4) strictly
enough for ward's tests, and prints the value of the series asked for.

usage: promcheck.py FILE [SERIES ...]   SERIES: name{k="v",...} exactly as
written (labels in the order the exporter writes them); prints one value per
line, "absent" for a series not there. Exit 1 with the reason on a format
error: a sample before its # TYPE, a bad name, label or value, a family
typed twice, a counter not ending in _total, histogram buckets not
cumulative, not ending with le="+Inf", or +Inf != _count, or no _sum."""
import re, sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf'^({NAME})(\{{(?:{LABEL})(?:,{LABEL})*\}})? (\S+)$')

def fail(msg, n=None):
    sys.exit(f"promcheck: {'line %d: ' % n if n else ''}{msg}")

def value(s, n):
    if s in ('+Inf', '-Inf', 'NaN'):
        return float(s.replace('Inf', 'inf'))
    try:
        return float(s)
    except ValueError:
        fail(f'bad value {s!r}', n)

def main():
    text = open(sys.argv[1]).read()
    if text and not text.endswith('\n'):
        fail('no final newline')
    types, helps, series = {}, set(), {}
    hist = {}	# (family, labels without le) -> [(le, v)], sum, count
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith('# HELP '):
            name = line.split(' ')[2]
            if not re.fullmatch(NAME, name) or name in helps:
                fail(f'bad or repeated HELP for {name}', n)
            helps.add(name)
            continue
        if line.startswith('# TYPE '):
            parts = line.split(' ')
            if len(parts) != 4 or parts[3] not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'):
                fail(f'bad TYPE line {line!r}', n)
            if parts[2] in types:
                fail(f'{parts[2]} typed twice', n)
            types[parts[2]] = parts[3]
            if parts[3] == 'counter' and not parts[2].endswith('_total'):
                fail(f'counter {parts[2]} does not end in _total', n)
            continue
        if line.startswith('#') or not line:
            continue
        m = SAMPLE.match(line)
        if not m:
            fail(f'not a sample line: {line!r}', n)
        name, labels, v = m.group(1), m.group(2) or '', value(m.group(3), n)
        fam = name
        for suf in ('_bucket', '_sum', '_count'):
            if name.endswith(suf) and types.get(name[:-len(suf)]) == 'histogram':
                fam = name[:-len(suf)]
        if fam not in types:
            fail(f'sample of {name} before its # TYPE', n)
        key = name + labels
        if key in series:
            fail(f'series {key} repeated', n)
        series[key] = v
        if types[fam] == 'histogram':
            lab = re.findall(LABEL, labels)
            base = tuple(l for l in lab if not l.startswith('le='))
            h = hist.setdefault((fam, base), {'b': [], 'sum': None, 'count': None})
            if name.endswith('_bucket'):
                le = [l for l in lab if l.startswith('le=')]
                if len(le) != 1:
                    fail(f'bucket without le: {line!r}', n)
                h['b'].append((value(le[0][4:-1], n), v))
            elif name.endswith('_sum'):
                h['sum'] = v
            elif name.endswith('_count'):
                h['count'] = v
            else:
                fail(f'histogram {fam} has a plain sample', n)
        elif types[fam] == 'counter' and v < 0:
            fail(f'negative counter {key}', n)
    for (fam, base), h in hist.items():
        b = h['b']
        if not b or b[-1][0] != float('inf'):
            fail(f'{fam}{base}: buckets do not end with le="+Inf"')
        if any(b[i][0] >= b[i + 1][0] or b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            fail(f'{fam}{base}: buckets not in order or not cumulative')
        if h['count'] is None or h['sum'] is None or h['count'] != b[-1][1]:
            fail(f'{fam}{base}: _count/_sum missing or +Inf != _count')
    for want in sys.argv[2:]:
        v = series.get(want)
        print('absent' if v is None else ('%d' % v if v == int(v) else repr(v)))

main()
