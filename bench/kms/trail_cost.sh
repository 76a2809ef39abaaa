#!/usr/bin/env bash
# bench/kms/trail_cost.sh: what ward-kms's activity trail costs an answer.
# The trail's append is durable before the answer leaves (docs/kms.md
# "Activity trail": one fdatasync per answer, shared by concurrent
# workers). Same binary, same machine, same calls, back to back: Decrypt
# from kms_load over keep-alive TLS with 1 and with 8 connections, with
# the trail and with it off (WARD_KMS_TEST_NO_TRAIL, a hook of test-hook
# builds only). Prints a table; last line: trail_p50_ms_1conn=... .
# Usage: trail_cost.sh [BUILD_DIR] (a -Dtest_hooks=true build).
set -euo pipefail
B=${1:-${WARD_BUILD_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)/build}}
B=$(cd "$B" && pwd)
export WARD_BUILD_ROOT=$B
SECS=${KMS_BENCH_SECONDS:-5}
LOAD=$B/bench/kms/kms_load
[ -x "$LOAD" ] || { echo "no $LOAD: build the bench targets" >&2; exit 1; }
. "$(dirname "$0")/../../tests/kms/lib.sh"
kms_setup
add_user alice --admin
kms_start
KID=$(call alice CreateKey '{}' | jget KeyMetadata.KeyId)
BLOB=$(call alice GenerateDataKey "{\"KeyId\":\"$KID\",\"KeySpec\":\"AES_256\",\"EncryptionContext\":{\"volume\":\"vol-1\"}}" | jget CiphertextBlob)
BODY="{\"CiphertextBlob\":\"$BLOB\",\"EncryptionContext\":{\"volume\":\"vol-1\"}}"
kms_stop
row() { # label conns
	local line
	line=$("$LOAD" --port "$PORT" --ca "$T/ca.pem" --akid "$alice_AK" --secret "$alice_SK" \
		--op Decrypt --body "$BODY" --conns "$2" --seconds "$SECS") || true
	echo "$1 $line" >>"$T/results"
	printf '%-22s %s\n' "$1" "$line"
}
echo "ward-kms trail cost: Decrypt, ${SECS}s per row, $(nproc) CPUs, trail on $(df -P "$T" | awk 'NR==2 {print $1}')"
for round in 1 2; do
	kms_start
	row "trail_1conn_r$round" 1
	row "trail_8conn_r$round" 8
	kms_stop
	WARD_KMS_TEST_NO_TRAIL=1 kms_start
	grep -q "test hook: the activity trail is off" "$T/server.log" ||
		{ echo "this build has no test hooks (-Dtest_hooks=true): cannot turn the trail off" >&2; exit 1; }
	row "notrail_1conn_r$round" 1
	row "notrail_8conn_r$round" 8
	kms_stop
	: >"$T/server.log"
done
python3 - "$T/results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    label, *kv = line.split()
    rows[label] = {k: v for k, v in (x.split("=", 1) for x in kv)}
def mean(prefix, key):
    v = [float(r.get(key, 0)) for l, r in rows.items() if l.startswith(prefix)]
    return sum(v) / len(v) if v else 0.0
out = []
for c in ("1conn", "8conn"):
    for w in ("trail", "notrail"):
        out.append(f'{w}_per_s_{c}={mean(w + "_" + c, "per_s"):.0f} {w}_p50_ms_{c}={mean(w + "_" + c, "p50_ms"):.2f}')
print(" ".join(out))
PY
