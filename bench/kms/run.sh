#!/usr/bin/env bash
# bench/kms/run.sh: ward-kms Decrypt and GenerateDataKey throughput and
# p50/p99 latency over TLS with keep-alive, from kms_load on loopback, with
# and without Recipient (HPKE to a host key). Reference in the same run: the
# same load against a request ward-kms refuses before any crypto (unsigned),
# i.e. the TLS + HTTP ceiling of this machine. Prints a table, writes
# JSON, last line: kms_decrypt_per_s=N p99_ms=X.
# Usage: run.sh [BUILD_DIR [OUT_JSON]] (scripts/bench.sh passes both).
set -euo pipefail
B=${1:-${WARD_BUILD_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)/build}}
B=$(cd "$B" && pwd)
OUT_JSON=${2:-$B/bench/kms/results.json}
case $OUT_JSON in /*) ;; *) OUT_JSON=$PWD/$OUT_JSON ;; esac
export WARD_BUILD_ROOT=$B
SECS=${KMS_BENCH_SECONDS:-5}
CONNS=${KMS_BENCH_CONNS:-16}
LOAD=$B/bench/kms/kms_load
. "$(dirname "$0")/../../tests/kms/lib.sh"
kms_setup
add_user alice --admin
"${K[@]}" admin add-host host1 --pubkey "$T/host1-hpke.pub" --cert-subject CN=host1 >/dev/null
kms_start
KID=$(call alice CreateKey '{}' | jget KeyMetadata.KeyId)
BLOB=$(call alice GenerateDataKey "{\"KeyId\":\"$KID\",\"KeySpec\":\"AES_256\",\"EncryptionContext\":{\"volume\":\"vol-1\"}}" | jget CiphertextBlob)
REC='"Recipient":{"KeyEncryptionAlgorithm":"HPKE_P256_SHA256_AES256GCM","HostId":"host1"}'
run() { # label op body [extra]
	local label=$1 op=$2 body=$3; shift 3
	local line
	line=$("$LOAD" --port "$PORT" --ca "$T/ca.pem" --akid "$alice_AK" --secret "$alice_SK" \
		--op "$op" --body "$body" --conns "$CONNS" --seconds "$SECS" "$@") || true
	echo "$label $line" >> "$T/results"
	printf '%-30s %s\n' "$label" "$line"
}
echo "ward-kms benchmark: $CONNS keep-alive TLS connections, ${SECS}s per row, $(nproc) CPUs"
run reference_unsigned ListKeys '{}' --unsigned
run decrypt Decrypt "{\"CiphertextBlob\":\"$BLOB\",\"EncryptionContext\":{\"volume\":\"vol-1\"}}"
run decrypt_recipient Decrypt "{\"CiphertextBlob\":\"$BLOB\",\"EncryptionContext\":{\"volume\":\"vol-1\"},$REC}"
run generate_data_key GenerateDataKey "{\"KeyId\":\"$KID\",\"KeySpec\":\"AES_256\",\"EncryptionContext\":{\"volume\":\"vol-1\"}}"
run generate_data_key_recipient GenerateDataKey "{\"KeyId\":\"$KID\",\"KeySpec\":\"AES_256\",\"EncryptionContext\":{\"volume\":\"vol-1\"},$REC}"
# Decrypt with an attestation Recipient (issue 13, docs/enclaves.md): each
# call spends its document, so kms_load's one repeated body cannot drive it;
# recipient_bench runs it in-process beside plain Decrypt in the same run.
attest_chain "$T/att"
"$B/bench/kms/recipient_bench" "$T/att" "${KMS_BENCH_ATTESTED:-300}" 2>/dev/null | tee -a "$T/results"
kms_stop
python3 - "$T/results" "$OUT_JSON" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    label, *kv = line.split()
    rows[label] = {k: v for k, v in (x.split("=", 1) for x in kv)}
ref = float(rows["reference_unsigned"].get("per_s", 0) or 0)
for r in rows.values():
    r["ratio_to_reference"] = round(float(r.get("per_s", 0)) / ref, 3) if ref else None
json.dump(rows, open(sys.argv[2], "w"), indent=1)
d = rows["decrypt"]
print(f'kms_decrypt_per_s={d.get("per_s","0")} p99_ms={d.get("p99_ms","0")} '
      f'decrypt_recipient_per_s={rows["decrypt_recipient"].get("per_s","0")} '
      f'gdk_per_s={rows["generate_data_key"].get("per_s","0")} '
      f'ratio_to_tls_ceiling={d["ratio_to_reference"]}')
PY
