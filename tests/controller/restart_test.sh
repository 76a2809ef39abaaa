#!/usr/bin/env bash
# restart_test.sh HV_STANDIN: a restart of the measured controller within one
# boot (docs/controller.md, "Restarting the controller"). The real chain:
# ward-fwtool provisions a store, the TPM is power-cycled, ward-boot measures
# the controller into PCR 12 and the controller measures the store. Then the
# controller is killed (SIGTERM, then kill -9) and started again through
# ward-boot: it resumes without a second extend, back in service with its
# instances re-adopted. A swapped binary, a PCR 12 or 13 extended after
# boot, and a swapped binary started directly are each refused. No raw
# tss2 line ("ERROR:esys") appears in any output. Without /dev/kvm the
# store's ward-hv is HV_STANDIN (it waits like a VM that runs).
source "$(dirname "$0")/lib.sh"
STANDIN=${1:?hv_standin path}
need
REAL=$B/src/controller/ward-controller FT=$B/src/controller/fw/ward-fwtool
BOOT=$B/src/boot/ward-boot KEY=$SRC/src/controller/fw/keys/TEST-vendor-ed25519.pem
for x in "$REAL" "$FT" "$BOOT" "$KEY" "$STANDIN"; do
	[ -e "$x" ] || { echo "FAIL: $x is missing: the build did not produce it"; exit 1; }
done
for t in swtpm_ioctl tpm2_startup tpm2_pcrextend tpm2_pcrread; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
export TPM2TOOLS_TCTI=$WARD_TPM_TCTI
mkpki
KVM=0
[ -w /dev/kvm ] && [ "$(id -u)" = 0 ] && KVM=1

mkdir -p "$W/img"
cp "$B/src/blk/ward-blk" "$B/guest/hello.elf" "$B/guest/spin.elf" "$W/img/"
if [ "$KVM" = 1 ]; then
	cp "$B/src/hv/ward-hv" "$W/img/"
else
	echo "note: no /dev/kvm: the store's ward-hv is a stand-in that waits (no guest runs)"
	cp "$STANDIN" "$W/img/ward-hv"
fi
cp "$REAL" "$W/ctl"
"$FT" build-store --images "$W/img" --key "$KEY" --version 1 --counter 1 -o "$W/v1.pkg" \
	>"$W/fw.out" 2>&1 || { cat "$W/fw.out"; echo "FAIL: build-store"; exit 1; }
"$FT" provision --state "$S" --controller "$W/ctl" --package "$W/v1.pkg" --tcti "$WARD_TPM_TCTI" \
	>"$W/fw.out" 2>&1 || { cat "$W/fw.out"; echo "FAIL: provision"; exit 1; }
# Power-cycle the TPM: PCRs start from zero, as after a host reboot.
swtpm_ioctl --tcp "127.0.0.1:$(( ${WARD_TPM_TCTI##*port=} + 1 ))" -i >/dev/null
tpm2_startup -c >/dev/null 2>&1
UIDB=$((300000 + RANDOM * 16))

# boot_ctl BINARY [LOG]: ward-boot BINARY as the controller; returns 0 once
# it serves, 1 if it exited first (ward-boot or controller refusal).
boot_ctl() {
	launch_ctl "${2:-$W/ctl.log}" "$BOOT" --event-log "$W/eventlog" "$1"
}

# launch_ctl LOG CMD...: CMD with the controller's options, in the
# background; 0 once its port is written, 1 if it exited first.
launch_ctl() {
	local log=$1
	shift
	rm -f "$W/port"
	"$@" --state-dir "$S" --tcti "$WARD_TPM_TCTI" \
		--listen 127.0.0.1:0 --port-file "$W/port" --tls-cert "$P/server.pem" \
		--tls-key "$P/server.key" --client-ca "$P/ca.pem" --request-timeout 3 \
		--uid-base "$UIDB" >>"$log" 2>&1 &
	CTL_PID=$!
	for _ in $(seq 600); do
		[ -s "$W/port" ] && break
		kill -0 "$CTL_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$W/port" ]; then
		wait "$CTL_PID" 2>/dev/null
		CTL_PID=""
		return 1
	fi
	URL=https://127.0.0.1:$(cat "$W/port")
	return 0
}

# crash_ctl: kill -9 the controller. On a host, /dev/tpmrm0 (the kernel's
# resource manager) flushes a dead process's loaded objects and sessions;
# swtpm on TCP has no resource manager, so the test does what it would
# (else the TPM's three object slots fill up after a few kills).
crash_ctl() {
	kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null; CTL_PID=""
	tpm2_flushcontext -t >/dev/null 2>&1; tpm2_flushcontext -s >/dev/null 2>&1
}

pcr() { tpm2_pcrread "sha256:$1" 2>/dev/null | awk '/0x/ {print $3}'; }
# pcr12_events: how many events the event log holds for PCR 12.
pcr12_events() { tpm2_eventlog "$W/eventlog" 2>/dev/null | grep -c 'PCRIndex: 12'; }
host_state() { req cp GET /v1/host; json_get '["state"]' <<<"$BODY" 2>/dev/null; }
inst_state() { req cp GET "/v1/instances/$1"; json_get '["state"]' <<<"$BODY" 2>/dev/null; }

# 1. The first, fresh boot.
boot_ctl "$W/ctl" || { cat "$W/ctl.log"; echo "FAIL: the verified controller did not start"; exit 1; }
check "fresh boot: in-service" [ "$(host_state)" = in-service ]
P12=$(pcr 12) P13=$(pcr 13) P15=$(pcr 15)
check "the store key is sealed again for a restart in this boot" \
	[ -s "$S/fw/resume-secret.blob" ]
req cp POST /v1/instances '{"image":"spin","memory_mib":16}'
check "an instance runs: 201" [ "$STATUS" = 201 ]
ID=$(json_get '["id"]' <<<"$BODY" 2>/dev/null)
IPID=$(json_get '["pid"]' <<<"$BODY" 2>/dev/null)

# 2. SIGTERM, then start again through ward-boot.
stop_ctl
check "the instance outlives the controller" kill -0 "$IPID"
if boot_ctl "$W/ctl"; then
	ok "after SIGTERM: ward-boot starts the same controller again"
else
	fail "after SIGTERM the controller did not come back"; tail -20 "$W/ctl.log"; finish
fi
check "after SIGTERM: in-service" [ "$(host_state)" = in-service ]
check "ward-boot said it resumed without a second extend" \
	grep -q 'resuming without a second extend' "$W/ctl.log"

# 3. kill -9 (a crash, an OOM kill), then start again through ward-boot.
crash_ctl
check "the instance outlives the killed controller" kill -0 "$IPID"
boot_ctl "$W/ctl" || { fail "after kill -9 the controller did not come back"; tail -20 "$W/ctl.log"; finish; }
check "after kill -9: in-service, API answering" [ "$(host_state)" = in-service ]
check "the host's reason says it resumed" grep -q 'restarted in this boot' "$W/body"
check "the instance is re-adopted and running" [ "$(inst_state "$ID")" = running ]
check "re-adoption is audited" python3 -c 'import json,sys
sys.exit(not any(r.get("type") == "instance" and r.get("event") == "adopt" and
                 r.get("instance") == sys.argv[2] for r in map(json.loads, open(sys.argv[1]))))' \
	"$S/audit/leaves" "$ID"
check "PCRs 12, 13 and 15 are unchanged by the restarts" \
	[ "$(pcr 12)/$(pcr 13)/$(pcr 15)" = "$P12/$P13/$P15" ]
if command -v tpm2_eventlog >/dev/null; then
	check "the event log holds one PCR 12 measurement" [ "$(pcr12_events)" = 1 ]
fi
req cp POST /v1/instances '{"image":"hello","memory_mib":16}'
check "a resumed host launches: 201" [ "$STATUS" = 201 ]
crash_ctl

# 4. Refusals. A swapped controller binary (one byte more) through ward-boot.
cp "$W/ctl" "$W/ctl-swapped"
printf 'x' >>"$W/ctl-swapped"
if boot_ctl "$W/ctl-swapped" "$W/swapped.log"; then
	fail "ward-boot ran a swapped controller binary"; crash_ctl
else
	ok "ward-boot refuses a swapped controller binary"
fi
check "... saying PCR 12's one measurement is of another binary" \
	grep -q "refusing .*one measurement is of another binary" "$W/swapped.log"
check "... and PCR 12 was not extended again" [ "$(pcr 12)" = "$P12" ]
# The same swapped binary started directly: out of service, not resumed.
start_direct() {
	WARD_EVENT_LOG=$W/eventlog launch_ctl "$2" "$1" || true
}
rm -f "$W/port"
start_direct "$W/ctl-swapped" "$W/direct.log"
req cp GET /v1/host
echo "   $BODY"
check "a swapped binary started directly stays out of service (it is not the measured one)" \
	bash -c "grep -q '\"state\":\"out-of-service\"' '$W/body' && grep -q 'restart refused: PCR 12.s one measurement is of another binary' '$W/body'"
stop_ctl
# PCR 13 extended after boot: ward-boot passes (PCR 12 is intact), the
# key sealed to the verified boot's PCRs does not open.
tpm2_pcrextend "13:sha256=$(printf '%064d' 13)" >/dev/null
boot_ctl "$W/ctl" "$W/pcr13.log"
req cp GET /v1/host
echo "   $BODY"
check "PCR 13 extended after boot: out of service, the resume key does not unseal" \
	bash -c "grep -q '\"state\":\"out-of-service\"' '$W/body' && grep -q 'restart refused: store key did not unseal' '$W/body'"
req cp POST /v1/instances '{"image":"hello","memory_mib":16}'
check "... and it launches nothing: 503" [ "$STATUS" = 503 ]
stop_ctl
# PCR 12 extended after boot: ward-boot refuses.
tpm2_pcrextend "12:sha256=$(printf '%064d' 12)" >/dev/null
if boot_ctl "$W/ctl" "$W/pcr12.log"; then
	fail "ward-boot ran the controller on a PCR 12 extended after boot"; crash_ctl
else
	ok "ward-boot refuses a PCR 12 extended after boot"
fi
check "... saying PCR 12 was extended outside the log" \
	grep -q "refusing .*PCR 12 does not match the event log" "$W/pcr12.log"

# 5. No raw tss2 lines anywhere.
check "no raw tss2 line (ERROR:esys) in any output" \
	bash -c "! grep -h 'ERROR:' '$W'/*.log"
finish
