#!/usr/bin/env bash
# tunnel_keyx.sh TEST_BINARY: a fresh host PKI in a temp dir, then the
# key-exchange tests (tests/net/tunnel_keyx.c) against it.
set -euo pipefail
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$(dirname "$0")/tunnel_pki.sh" "$d"
"$1" "$d"
