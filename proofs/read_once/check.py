#!/usr/bin/env python3
"""read_once: checks that the virtqueue code (src/lib/virtq.c) loads each
field of shared guest memory exactly once per use (the double-fetch class;
docs/proofs.md "Guest memory read once").

It reads the preprocessed file (so a macro cannot hide a load) and checks:
  1. the guest-memory pointers (struct vq's desc/avail/used, walk_indirect's
     tbl, vq_push's ring) are volatile-qualified, so the compiler performs
     every access exactly as written, never re-fetching or merging one;
  2. guest memory is read only through the accessors: desc_load() (one
     descriptor), ld16() (one 16-bit ring field) and the one avail-ring
     slot read in vq_pop(); every other mention of a guest pointer is a
     store (used ring, event index) or the address handed to an accessor;
  3. desc_load() reads each of the four descriptor fields exactly once,
     with no loop and no other use of its pointer;
  4. each descriptor walk (vq_pop, walk_indirect) calls desc_load() exactly
     once per loop iteration, and every check and use of a descriptor
     field in the walk is of that local copy;
  5. vq_pop() loads the avail index and the avail-ring slot once each.
Exit 0 when all hold; otherwise prints each violation and exits 1.
"""
import re
import subprocess
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
cc = sys.argv[2] if len(sys.argv) > 2 else "cc"
errors = []


def fail(msg):
    errors.append(msg)


def strip_comments(s):
    s = re.sub(r"/\*.*?\*/", " ", s, flags=re.S)
    return re.sub(r"//[^\n]*", " ", s)


def function_body(src, name):
    """The text between the braces of the definition of `name`."""
    m = re.search(r"\b" + name + r"\s*\([^;{]*\)\s*\{", src)
    if not m:
        fail(f"{name}(): definition not found")
        return ""
    depth, i = 1, m.end()
    while depth and i < len(src):
        depth += {"{": 1, "}": -1}.get(src[i], 0)
        i += 1
    return src[m.end():i - 1]


def loop_body(body, what):
    """The body of the first `for (...;;...)` loop in a function."""
    m = re.search(r"for\s*\([^)]*;\s*;\s*[^)]*\)\s*\{", body)
    if not m:
        fail(f"{what}: walk loop not found")
        return ""
    depth, i = 1, m.end()
    while depth and i < len(body):
        depth += {"{": 1, "}": -1}.get(body[i], 0)
        i += 1
    return body[m.end():i - 1]


hdr = strip_comments(open(f"{root}/src/lib/virtq.h").read())
for field in ("desc", "avail", "used"):
    if not re.search(r"\bvolatile\b[^;]*\*\s*" + field + r"\s*;", hdr):
        fail(f"struct vq: {field} is not a pointer to volatile")

pre = subprocess.run([cc, "-E", "-P", "-D_GNU_SOURCE", f"-I{root}/src/lib", f"-I{root}/src",
                      f"{root}/src/lib/virtq.c"], capture_output=True, text=True)
if pre.returncode:
    print(pre.stderr)
    sys.exit(1)
src = strip_comments(pre.stdout)
# Only what virtq.c itself defines: from its first function on.
src = src[src.index("vq_mem_gpa("):] if "vq_mem_gpa(" in src else src

# 1. the locals that point into guest memory are volatile too
for name, fn in (("tbl", "walk_indirect"), ("ring", "vq_push")):
    if not re.search(r"\bvolatile\b[^;]*\*\s*" + name + r"\b", function_body(src, fn)):
        fail(f"{fn}(): {name} is not a pointer to volatile")

# 2. every use of a guest pointer is an accessor's argument, a store, or
#    vq_pop's avail slot read
uses = [(m.start(), m.group(0)) for m in
        re.finditer(r"vq->(desc|avail|used)\s*\[|\btbl\s*\[|\bring\s*\[", src)]
for pos, use in uses:
    line_start = src.rfind("\n", 0, pos) + 1
    line_end = src.find("\n", pos)
    line = src[line_start:line_end].strip()
    before = src[max(0, pos - 40):pos]
    if re.search(r"(desc_load|ld16)\s*\(\s*&\s*$", before):
        continue                                   # accessor argument
    if re.search(r"__atomic_store_n\s*\(\s*&\s*$", before):
        continue                                   # store to the used ring
    if use.startswith("ring") and re.match(r"ring\s*\[[^\]]*\]\s*=[^=]", src[pos:pos + 40]):
        continue                                   # store to the used ring
    if re.fullmatch(r"head\s*=\s*vq->avail\s*\[[^;]*\]\s*;", line):
        continue                                   # vq_pop's avail slot (5.)
    fail(f"guest memory read outside the accessors: {line}")

# 3. desc_load(): one load of each field, no loop
dl = function_body(src, "desc_load")
for field in ("addr", "len", "flags", "next"):
    n = len(re.findall(r"\bp\s*->\s*" + field + r"\b", dl))
    if n != 1:
        fail(f"desc_load(): p->{field} is read {n} times, not once")
if len(re.findall(r"\bp\b", dl)) != 4:
    fail("desc_load(): its pointer is used other than for the four field loads")
if re.search(r"\b(for|while|goto)\b", dl):
    fail("desc_load(): has a loop")

# 4. one desc_load() per walk iteration, and the checks use the copy
for fn, table in (("vq_pop", r"vq->desc"), ("walk_indirect", r"\btbl")):
    body = function_body(src, fn)
    loop = loop_body(body, fn)
    if len(re.findall(r"\bdesc_load\s*\(", loop)) != 1:
        fail(f"{fn}(): the walk loop does not call desc_load() exactly once per iteration")
    if len(re.findall(r"\bdesc_load\s*\(", body)) != 1:
        fail(f"{fn}(): desc_load() called outside its walk loop")
    if len(re.findall(table + r"\s*\[", body)) != 1:
        fail(f"{fn}(): the descriptor table is indexed other than in the one desc_load()")

# 5. vq_pop(): the avail index and the avail slot, once each
pop = function_body(src, "vq_pop")
if len(re.findall(r"vq->avail\s*\[", pop)) != 2:
    fail("vq_pop(): the avail ring is read other than once for the index and once for the slot")

for e in errors:
    print("read_once: " + e)
print(f"read_once: {'FAIL' if errors else 'ok'}: {len(uses)} guest-memory accesses in virtq.c checked")
sys.exit(1 if errors else 0)
