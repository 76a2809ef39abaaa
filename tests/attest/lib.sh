# lib.sh: the measured host for the attestation tests (sourced after
# tests/controller/lib.sh's variables): a store built from real images, its
# release's golden set, and boot/start through ward-boot on swtpm.
STANDIN=${STANDIN:?} TOOL=${TOOL:?}
REAL=$B/src/controller/ward-controller FT=$B/src/controller/fw/ward-fwtool
BOOT=$B/src/boot/ward-boot KEY=$SRC/src/controller/fw/keys/TEST-vendor-ed25519.pem
for x in "$REAL" "$FT" "$BOOT" "$KEY" "$STANDIN" "$TOOL"; do
	[ -e "$x" ] || { echo "FAIL: $x is missing: the build did not produce it"; exit 1; }
done
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
for t in swtpm_ioctl tpm2_startup tpm2_pcrextend tpm2_checkquote tpm2_eventlog tpm2_createek \
	tpm2_createak tpm2_quote tpm2_readpublic tpm2_nvundefine; do
	command -v $t >/dev/null || { echo "SKIP: $t (tpm2-tools) not installed"; exit 77; }
done
export TPM2TOOLS_TCTI=$WARD_TPM_TCTI
mkpki
UIDB=$((300000 + RANDOM * 16))
mkdir -p "$W/img"
cp "$B/src/blk/ward-blk" "$B/guest/hello.elf" "$W/img/"
cp "$STANDIN" "$W/img/ward-hv"	# no guest runs in this test
"$FT" build-store --images "$W/img" --key "$KEY" --version 1 --counter 1 -o "$W/v1.pkg" \
	>"$W/fw.out" 2>&1 || { cat "$W/fw.out"; echo "FAIL: build-store"; exit 1; }
# The release's golden set, from what the vendor ships (not from the host).
cp "$REAL" "$W/ctl"
"$FT" golden-set --release rel-1 --controller "$W/ctl" --package "$W/v1.pkg" -o "$W/golden" ||
	{ echo "FAIL: golden set"; exit 1; }

# boot BINARY: provision the store for BINARY, power-cycle the TPM (PCRs
# from zero, as after a reboot), start BINARY through ward-boot.
boot() {
	"$FT" provision --state "$S" --controller "$1" --package "$W/v1.pkg" \
		--tcti "$WARD_TPM_TCTI" >"$W/fw.out" 2>&1 ||
		{ cat "$W/fw.out"; echo "FAIL: provision"; exit 1; }
	swtpm_ioctl --tcp "127.0.0.1:$(( ${WARD_TPM_TCTI##*port=} + 1 ))" -i >/dev/null
	tpm2_startup -c >/dev/null 2>&1
	rm -f "$W/eventlog"
	start "$1"
}

# start BINARY: ward-boot BINARY (a first start, or a restart in this boot),
# listening on $LISTEN (default: a free port).
start() {
	rm -f "$W/port"
	"$BOOT" --event-log "$W/eventlog" "$1" --state-dir "$S" --tcti "$WARD_TPM_TCTI" \
		--listen "${LISTEN:-127.0.0.1:0}" --port-file "$W/port" --tls-cert "$P/server.pem" \
		--tls-key "$P/server.key" --client-ca "$P/ca.pem" --request-timeout "${REQ_TIMEOUT:-5}" \
		--uid-base "$UIDB" >>"$W/ctl.log" 2>&1 &
	CTL_PID=$!
	for _ in $(seq 600); do
		[ -s "$W/port" ] && break
		kill -0 "$CTL_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -s "$W/port" ] || { cat "$W/ctl.log"; echo "FAIL: the controller did not start"; exit 1; }
	URL=https://127.0.0.1:$(cat "$W/port")
}

