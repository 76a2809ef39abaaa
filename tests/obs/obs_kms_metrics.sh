#!/usr/bin/env bash
# ward-kms's Prometheus metrics (docs/observability.md): GET /metrics on the
# KMS's TLS listener answers only the monitoring client certificate
# (--metrics-subject); the text is valid exposition format 0.0.4
# (promcheck.py); request counters by operation and outcome, the latency
# histogram and the trail size move with the calls made.
. "$(dirname "$0")/../kms/lib.sh"
CHECK="python3 $(dirname "$0")/promcheck.py"
kms_setup
( cd "$T"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout mon.key \
	-out mon.csr -subj "/O=ward/CN=monitor"
  openssl x509 -req -in mon.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out mon.pem -days 1
) >/dev/null 2>&1 || fail "monitor certificate"
add_user alice --admin
add_user bob
K+=(--metrics-subject "CN=monitor,O=ward")
kms_start

# scrape NAME [curl args]: GET /metrics into $T/NAME, status in $CODE
scrape() {
	local name=$1; shift
	CODE=$(curl -s -o "$T/$name" -w '%{http_code} %{content_type}' --cacert "$T/ca.pem" "$@" \
		"$URL/metrics") || fail "curl $name"
}

scrape none
[ "${CODE%% *}" = 403 ] || fail "no client certificate: $CODE"
scrape host --cert "$T/host1.pem" --key "$T/host1.key"
[ "${CODE%% *}" = 403 ] || fail "a host's certificate: $CODE"
pass "/metrics refused without a certificate and for another identity (403)"

scrape m0 --cert "$T/mon.pem" --key "$T/mon.key"
[ "$CODE" = "200 text/plain; version=0.0.4; charset=utf-8" ] || fail "monitor: $CODE"
$CHECK "$T/m0" >/dev/null || fail "format: $($CHECK "$T/m0" 2>&1)"
[ "$($CHECK "$T/m0" 'ward_kms_requests_total{op="Decrypt",outcome="allow"}' ward_kms_trail_records)" \
	= "absent
0" ] || fail "before any call: $(cat "$T/m0")"
pass "the monitoring identity gets format 0.0.4 text, no requests counted yet"

KID=$(call alice CreateKey '{}' | jget KeyMetadata.KeyId) || fail "CreateKey"
CT=$(call alice Encrypt "{\"KeyId\":\"$KID\",\"Plaintext\":\"aGVsbG8=\"}" | jget CiphertextBlob) \
	|| fail "Encrypt"
call alice Decrypt "{\"CiphertextBlob\":\"$CT\"}" >/dev/null || fail "Decrypt"
call alice Decrypt "{\"CiphertextBlob\":\"$CT\"}" >/dev/null || fail "Decrypt"
call bob Decrypt "{\"CiphertextBlob\":\"$CT\"}" >/dev/null && fail "bob decrypted"
call alice Decrypt '{"CiphertextBlob":"AAAA"}' >/dev/null && fail "a bad blob decrypted"

scrape m1 --cert "$T/mon.pem" --key "$T/mon.key"
$CHECK "$T/m1" >/dev/null || fail "format after calls: $($CHECK "$T/m1" 2>&1)"
GOT=$($CHECK "$T/m1" \
	'ward_kms_requests_total{op="Decrypt",outcome="allow"}' \
	'ward_kms_requests_total{op="Decrypt",outcome="deny"}' \
	'ward_kms_requests_total{op="Decrypt",outcome="error"}' \
	'ward_kms_requests_total{op="Encrypt",outcome="allow"}' \
	'ward_kms_requests_total{op="CreateKey",outcome="allow"}' \
	'ward_kms_request_duration_seconds_count{op="Decrypt"}' \
	'ward_kms_request_duration_seconds_bucket{op="Decrypt",le="+Inf"}' \
	ward_kms_trail_records | tr '\n' ' ')
[ "$GOT" = "2 1 1 1 1 4 4 6 " ] || fail "counters after the calls: $GOT
$(grep -v '^#' "$T/m1" | grep -v _bucket)"
pass "counters, histogram and trail size moved with the calls: $GOT"
grep -q '^# TYPE ward_kms_request_duration_seconds histogram$' "$T/m1" || fail "histogram TYPE"
