#!/usr/bin/env bash
# tests/enclave/nsm_check.sh: runs nsm_check.py (NSM requests from cbor2
# against src/lib/nsm.c) in a temporary directory.
set -euo pipefail
T=$(mktemp -d /tmp/ward-nsm-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
exec /usr/bin/python3 "${WARD_SOURCE_ROOT:?}/tests/enclave/nsm_check.py" \
	"${WARD_BUILD_ROOT:?}/tests/enclave/nsm_tool" "$WARD_SOURCE_ROOT/tests/enclave/attest_check.py" "$T"
