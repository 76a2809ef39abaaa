#!/usr/bin/env bash
# demo-boot.sh BUILD_DIR: the root of trust end to end on a private swtpm —
# provision a fresh host, boot it through ward-boot -> ward-controller
# (measured and verified), launch the hello guest through the mTLS API,
# tamper with one firmware image and watch the host refuse to serve, restore
# it, and verify the audit log offline. Cleans up after itself.
set -euo pipefail
B=$(cd "${1:?usage: demo-boot.sh BUILD_DIR}" && pwd)
cd "$(dirname "$0")/.."
SRC=$(pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/ward-demo-boot.XXXXXX")
. "$SRC/scripts/demo-lib.sh"
FT=$B/src/controller/fw/ward-fwtool
BOOT=$B/src/boot/ward-boot
WARD=$B/src/cli/ward
VENDOR_KEY=$SRC/src/controller/fw/keys/TEST-vendor-ed25519.pem
S=$W/state

start_swtpm
make_pki "$W/pki"
show_env B W WARD_TPM_TCTI
cp "$B/src/controller/ward-controller" "$W/ward-controller"

say "the vendor builds a signed firmware package (ward-hv, ward-blk, guest images)"
mkdir -p "$W/img"
cp "$B/src/hv/ward-hv" "$B/src/blk/ward-blk" "$B/guest/hello.elf" "$B/guest/spin.elf" "$W/img/"
show "$FT" build-store --images "$W/img" --key "$VENDOR_KEY" --version 1 --counter 1 -o "$W/fw-1.pkg"
"$FT" info "$W/fw-1.pkg" | sed 's/^/  /'

say "provisioning: TPM-resident host key and signing key, NV counter, encrypted store sealed to the boot PCRs"
show "$FT" provision --state "$S" --controller "$W/ward-controller" --package "$W/fw-1.pkg" --tcti "$TCTI"

boot_controller() { # power-cycle the TPM, then ward-boot -> ward-controller
	tpm_power_cycle
	rm -f "$W/port"
	"$BOOT" --event-log "$W/eventlog" "$W/ward-controller" --state-dir "$S" --tcti "$TCTI" \
		--listen 127.0.0.1:0 --port-file "$W/port" --tls-cert "$W/pki/server.pem" \
		--tls-key "$W/pki/server.key" --client-ca "$W/pki/ca.pem" 2>>"$W/ctl.log" &
	CTL_PID=$!
	DEMO_PIDS+=("$CTL_PID")
	for _ in $(seq 200); do [ -s "$W/port" ] && break; sleep 0.05; done
	[ -s "$W/port" ] || { cat "$W/ctl.log"; exit 1; }
	export WARD_URL=https://127.0.0.1:$(cat "$W/port") WARD_CA=$W/pki/ca.pem
	echo "  (this boot's API; the ward commands below use it)"
	show_env WARD_URL WARD_CA
}
stop_controller() { kill "$CTL_PID"; wait "$CTL_PID" 2>/dev/null || true; }
cp=(--cert "$W/pki/cp.pem" --key "$W/pki/cp.key")
op=(--cert "$W/pki/op.pem" --key "$W/pki/op.key")
host_state() { "$WARD" "${cp[@]}" host | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  state:", d.get("state"), "|", d.get("reason", ""))'; }

say "boot: ward-boot measures ward-controller into PCR 12, the controller verifies and measures every image"
boot_controller
host_state
echo "  PCRs read from the TPM by tpm2-tools, and as the event log predicts them:"
TPM2TOOLS_TCTI=$TCTI tpm2_pcrread sha256:12,13,15 | sed 's/^/  /'
"$FT" replay "$W/eventlog" | sed 's/^/  /'

say "control plane launches the hello guest from the verified, sealed image"
show "$WARD" "${cp[@]}" instance run --image hello --memory 16M
sleep 1
show "$WARD" "${op[@]}" instance list
echo "  (the guest's console is never returned by any API; the operator sees ids and states only)"
refused "operators cannot launch" "$WARD" "${op[@]}" instance run --image hello
stop_controller

say "an attacker flips one byte of the encrypted ward-hv image at rest"
cp "$S/fw/slot-A/ward-hv.img" "$W/ward-hv.img.good"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[4096]^=1; open(p,"wb").write(b)' "$S/fw/slot-A/ward-hv.img"
boot_controller
host_state
refused "the host is out of service and launches nothing" "$WARD" "${cp[@]}" instance run --image hello
stop_controller

say "the image is restored: the next boot is in service again"
cp "$W/ward-hv.img.good" "$S/fw/slot-A/ward-hv.img"
boot_controller
host_state

say "the audit log: every request (allowed and denied) and boot verdict, fetched and verified offline"
show "$WARD" "${op[@]}" audit fetch --out "$W/export"
grep -o '"type":"boot","verdict":"[a-z-]*"' "$W/export/leaves" | sed 's/^/  /'
show "$WARD" audit verify "$W/export" --pubkey "$S/keys/audit-sign.pub.pem"
say "one flipped byte anywhere in the stored log is caught"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//3]^=1; open(p,"wb").write(b)' "$W/export/leaves"
refused "the tampered log fails verification" \
	"$WARD" audit verify "$W/export" --pubkey "$S/keys/audit-sign.pub.pem"
stop_controller
echo
echo "measured-boot demo complete"
