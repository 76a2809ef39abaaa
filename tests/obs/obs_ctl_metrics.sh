#!/usr/bin/env bash
# obs_ctl_metrics.sh HV_STANDIN: ward-controller's Prometheus metrics
# (docs/observability.md) on any host, KVM or not: GET /v1/metrics is a
# control-plane route (the operator gets 403), its text is exposition format
# 0.0.4 (promcheck.py), and the numbers move with a launch that attaches an
# encrypted volume — attach latency, instances, vCPUs and memory granted,
# CPU time of the instance, its card up, audit-log size, the card's volume
# counters (over the blkctl channel) — and after it.
# HV_STANDIN (tests/controller/hv_standin.c) plays ward-hv, so the instance
# "runs" without /dev/kvm; ward-blk, KMS and the TPM are the real ones.
. "$WARD_SOURCE_ROOT/tests/attach/lib.sh"
CHECK="python3 $SRC/tests/obs/promcheck.py"
standin_setup "${1:-}"
ctl_start_std --dev-images "$FB"

# metrics NAME: GET /v1/metrics as the control plane into $W/NAME, checked.
metrics() {
	req cp GET /v1/metrics
	cp "$W/body" "$W/$1"
	[ "$STATUS" = 200 ] || { fail "GET /v1/metrics as control plane: $STATUS $BODY"; finish; }
	$CHECK "$W/$1" >/dev/null || { fail "format: $($CHECK "$W/$1" 2>&1)"; finish; }
}
val() { $CHECK "$W/$1" "${@:2}" | tr '\n' ' ' | sed 's/ $//'; }

req op GET /v1/metrics
check "the operator role is refused /v1/metrics ($STATUS)" [ "$STATUS" = 403 ]
CT=$(curl -s -o /dev/null -w '%{content_type}' --cacert "$P/ca.pem" --cert "$P/cp.pem" \
	--key "$P/cp.key" "$URL/v1/metrics")
check "Content-Type is the 0.0.4 text format ($CT)" \
	[ "$CT" = "text/plain; version=0.0.4; charset=utf-8" ]
metrics m0
A0=$(val m0 ward_audit_records)
GOT=$(val m0 'ward_instances{state="running"}' ward_vcpus_granted \
	'ward_volume_attach_duration_seconds_count{outcome="ok"}' 'ward_cards{state="up"}')
check "before any launch: no instance, no vCPU, no attach, no card ($GOT)" [ "$GOT" = "0 0 0 0" ]

KID=$(make_key)
wv alice create --size 16M --kms-key "$KID" --id vol-1 >"$W/create.out" ||
	{ cat "$W/create.out"; fail "volume create"; finish; }
wv alice attach vol-1 --image blk-check --memory 64 --vcpus 2 >"$W/attach.out" 2>&1 ||
	{ cat "$W/attach.out"; fail "attach"; finish; }
ID=$(json_get '["id"]' <"$W/attach.out")
metrics m1
GOT=$(val m1 'ward_instances{state="running"}' ward_vcpus_granted ward_memory_granted_bytes \
	'ward_volume_attach_duration_seconds_count{outcome="ok"}' \
	'ward_volume_attach_duration_seconds_bucket{outcome="ok",le="+Inf"}' \
	'ward_cards{state="up"}' "ward_card_up{instance=\"$ID\",card=\"blk\"}")
check "a running instance with its volume: 1 instance, 2 vCPUs, 64 MiB, 1 attach, its card up ($GOT)" \
	[ "$GOT" = "1 2 67108864 1 1 1 1" ]
# ward-blk's counters, asked over the card's control channel (STATS): the
# stand-in does no I/O, so they are there and 0 (obs-blk-stats counts I/O).
GOT=$(val m1 "ward_blk_requests_total{instance=\"$ID\",volume=\"vol-1\",op=\"read\"}" \
	"ward_blk_bytes_total{instance=\"$ID\",volume=\"vol-1\",direction=\"write\"}" \
	"ward_blk_errors_total{instance=\"$ID\",volume=\"vol-1\"}" \
	"ward_blk_request_duration_seconds_count{instance=\"$ID\",volume=\"vol-1\"}")
check "the card's volume counters are collected over its control channel ($GOT)" [ "$GOT" = "0 0 0 0" ]
CPU=$(val m1 "ward_instance_cpu_seconds_total{instance=\"$ID\"}")
check "the instance's CPU time is reported ($CPU)" [ "$CPU" != absent ]
A1=$(val m1 ward_audit_records)
check "the audit log grew with the launch ($A0 -> $A1)" [ "$A1" -gt "$A0" ]

req cp DELETE "/v1/instances/$ID"
check "instance stopped ($STATUS)" [ "$STATUS" = 200 ]
metrics m2
GOT=$(val m2 'ward_instances{state="running"}' ward_vcpus_granted 'ward_cards{state="up"}')
check "after the stop: no running instance, no vCPU granted, no card up ($GOT)" [ "$GOT" = "0 0 0" ]
stop_ctl
finish
