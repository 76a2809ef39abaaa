#!/usr/bin/env bash
# make_corpus.sh BUILD_DIR: regenerate fuzz/fw/corpus (one seed per parser;
# the first byte selects the parser: 0 manifest, 1 package, 2 golden set,
# 3 slot pointer, 4 sealed secret) from a small package made with the TEST key.
set -euo pipefail
B=$(realpath "$1"); here=$(cd "$(dirname "$0")" && pwd)
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
mkdir "$t/img"; printf 'hv' >"$t/img/ward-hv"; printf 'guest' >"$t/img/hello.elf"
"$B/src/controller/fw/ward-fwtool" build-store --images "$t/img" \
	--key "$here/../../src/controller/fw/keys/TEST-vendor-ed25519.pem" \
	--version 7 --counter 3 --expiry 4102444800 -o "$t/p"
mkdir -p "$here/corpus"
python3 - "$t/p" "$here/corpus" <<'PY'
import struct, sys, os
pkg = open(sys.argv[1], 'rb').read(); d = sys.argv[2]
mlen = struct.unpack('<I', pkg[8:12])[0]
def w(name, b): open(os.path.join(d, name), 'wb').write(b)
w('manifest', b'\0' + pkg[12:12 + mlen])
w('package', b'\1' + pkg)
golden = b'WFGS' + struct.pack('<HBB', 1, 3, 0) + b''.join(bytes([i]) + bytes([i]) * 32 for i in (12, 13, 15))
sig = bytes.fromhex('3044022011111111111111111111111111111111111111111111111111111111111111110220' + '22' * 32)
w('golden', b'\2' + golden + struct.pack('<H', len(sig)) + sig)
w('pointer', b'\3' + b'WFSP' + bytes([1, ord('B'), 1, 1]) + struct.pack('<QQ', 7, 0))
w('secret', b'\4' + b'WFSK' + bytes([1, 0, 0, 0]) + struct.pack('<Q', 5) + bytes(range(64)))
PY
