#!/usr/bin/env python3
"""peek.py PID: try to read another process the way a malicious operator
would, with process_vm_readv and ptrace(PTRACE_ATTACH). Exits 0 only when
both are refused; otherwise names what worked. Run it as the attacker's uid."""
import ctypes
import sys

pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)


class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


buf = ctypes.create_string_buffer(64)
local = iovec(ctypes.cast(buf, ctypes.c_void_p), 64)
remote = iovec(0x400000, 64)
if libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) >= 0:
    sys.exit("process_vm_readv succeeded")
PTRACE_ATTACH = 16
if libc.ptrace(PTRACE_ATTACH, pid, 0, 0) == 0:
    sys.exit("ptrace attach succeeded")
