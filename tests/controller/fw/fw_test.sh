#!/usr/bin/env bash
# fw_test.sh CASE: the boot chain end to end (ward-boot -> boot chain ->
# firmware store) against a private swtpm (run under tests/tpm/swtpm-env.sh).
# "Reboot" = swtpm power cycle (CMD_INIT) + TPM2_Startup, so PCRs reset.
# ward-fwtool's `run` stands in for the controller: it calls fw_boot /
# fw_update_apply exactly as ward-controller does. Cases: provision, tamper,
# update, powerfail, fifo (docs/firmware.md).
set -uo pipefail

case_name=${1:?case}
B=${WARD_BUILD_ROOT:?}
S=${WARD_SOURCE_ROOT:?}
W=${WARD_SWTPM_DIR:?}/work
FT=$B/src/controller/fw/ward-fwtool
BOOT=$B/src/boot/ward-boot
KEY=$S/src/controller/fw/keys/TEST-vendor-ed25519.pem
export TSS2_LOG=all+none
port=${WARD_TPM_TCTI##*port=}

for tool in swtpm_ioctl tpm2_startup tpm2_pcrread tpm2_pcrextend tpm2_checkquote python3 openssl; do
	command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

fails=0
ok() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; return 1; fi; }
die() { echo "FATAL: $*"; exit 1; }

reboot() {
	swtpm_ioctl --tcp 127.0.0.1:$((port + 1)) -i >/dev/null || die "swtpm power cycle"
	tpm2_startup -c >/dev/null 2>&1 || true
}

# boot [run args...]: power cycle, then ward-boot -> $W/ctl run --state $W/st
boot() {
	reboot
	"$BOOT" --event-log "$W/log" "$W/ctl" run --state "$W/st" "$@" >"$W/out" 2>"$W/err"
	brc=$?
}
field() { sed -n "s/^$1=//p" "$W/out"; }
in_service() { [ "$(field in_service)" = 1 ] && [ "$(field version)" = "$1" ]; }
out_of_service() {	# reason substring
	[ "$(field in_service)" = 0 ] && grep -q "^reason=.*$1" "$W/out" &&
		! grep -q '^image ' "$W/out"
}
show() { cat "$W/out" "$W/err" | sed 's/^/    # /'; }

mkimages() {
	mkdir -p "$W/img1" "$W/img2"
	cp "$B/src/hv/ward-hv" "$B/src/blk/ward-blk" "$B/guest/hello.elf" \
		"$B/guest/spin.elf" "$W/img1/" || die "build outputs missing"
	cp "$W/img1/"* "$W/img2/"
	cp "$B/guest/blk-check.elf" "$W/img2/"	# v2 adds a guest
	cp "$FT" "$W/ctl"
}
pkg() {	# pkg NAME IMGDIR VERSION COUNTER [extra args]
	local n=$1 d=$2 v=$3 c=$4; shift 4
	"$FT" build-store --images "$W/$d" --key "$KEY" --version "$v" --counter "$c" \
		-o "$W/$n.pkg" "$@" || die "build-store $n"
}
provision() {
	"$FT" provision --state "$W/st" --controller "$W/ctl" --package "$W/v1.pkg" "$@" \
		>"$W/prov.out" 2>&1
}
flip() {	# flip FILE OFFSET (negative: from the end)
	python3 - "$1" "$2" <<'PY'
import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read())
b[o] ^= 0x01
open(p, 'wb').write(bytes(b))
PY
}

case_provision() {
	mkimages
	pkg v1 img1 1 1
	check "provision" provision
	check "host key public point is 65 bytes" test "$(stat -c %s "$W/st/keys/host.pub")" = 65
	check "golden/audit signing key and attestation key exist" \
		test -s "$W/st/keys/audit-sign.blob" -a -s "$W/st/keys/attest.pub.pem"
	boot
	check "good boot: in service with store version 1" in_service 1 || show
	for f in ward-hv ward-blk hello.elf spin.elf; do
		h=$(sha256sum "$W/img1/$f" | cut -d' ' -f1)
		check "image $f returned as a sealed memfd with the right bytes" \
			grep -q "sha256=$h sealed=1" "$W/out"
	done
	# Independent checks: software replay of ward's log == tpm2_pcrread,
	# and both == values computed here from the files themselves.
	"$FT" replay "$W/log" >"$W/replay" || fail "replay"
	tpm2_pcrread sha256:12,13,15 | sed -n 's/^ *\([0-9]*\): 0x\(.*\)/\1 \L\2/p' >"$W/pcrread"
	check "event log replay equals tpm2_pcrread" cmp -s "$W/replay" "$W/pcrread"
	python3 - "$W" >"$W/expect" <<'PY' || fail "expected PCRs"
import hashlib, sys, struct
w = sys.argv[1]
H = lambda b: hashlib.sha256(b).digest()
ext = lambda p, d: H(p + d)
z = bytes(32)
p12 = ext(z, H(open(w + '/ctl', 'rb').read()))
p13 = z
for f in ['ward-hv', 'ward-blk', 'hello.elf', 'spin.elf']:	# launch order
    p13 = ext(p13, H(open(w + '/img1/' + f, 'rb').read()))
pkg = open(w + '/v1.pkg', 'rb').read()
mlen = struct.unpack('<I', pkg[8:12])[0]
p15 = ext(z, H(pkg[12:12 + mlen]))
for i, v in ((12, p12), (13, p13), (15, p15)):
    print(i, v.hex())
PY
	check "PCRs equal values computed from the images themselves" cmp -s "$W/expect" "$W/pcrread"
	if command -v tpm2_eventlog >/dev/null; then
		check "tpm2_eventlog reads ward's event log" tpm2_eventlog "$W/log" >/dev/null 2>&1
	fi
	mkdir -p "$W/q"
	"$FT" quote --state "$W/st" --nonce 00112233445566778899aabbccddeeff --out "$W/q" \
		>"$W/q/list" || fail "quote"
	check "tpm2_checkquote verifies a quote by the host's attestation key" \
		tpm2_checkquote -u "$W/st/keys/attest.pub.pem" -m "$W/q/quote.msg" \
		-s "$W/q/quote.sig" -f "$W/q/quote.pcrs" -l "$(cat "$W/q/list")" \
		-q 00112233445566778899aabbccddeeff -g sha256
	check "tpm2_checkquote refuses another nonce" \
		bash -c "! tpm2_checkquote -u '$W/st/keys/attest.pub.pem' -m '$W/q/quote.msg' \
		-s '$W/q/quote.sig' -f '$W/q/quote.pcrs' -l '$(cat "$W/q/list")' \
		-q 00112233445566778899aabbccddeefe -g sha256 >/dev/null 2>&1"
	# ward-boot measures only a fresh boot.
	"$BOOT" --event-log "$W/log2" "$W/ctl" run --state "$W/st" >"$W/out" 2>"$W/err"
	check "ward-boot refuses to run when PCR 12 is already extended" \
		grep -q "already extended" "$W/err"
	# Provisioning twice keeps the identity unless --force.
	cp "$W/st/keys/host.pub" "$W/host.pub.1"
	provision; rc=$?
	check "second provision without --force is refused (exit 3)" test $rc = 3
	check "... with a message saying why" grep -q "already provisioned" "$W/prov.out"
	check "... and the host key is unchanged" cmp -s "$W/st/keys/host.pub" "$W/host.pub.1"
	boot
	check "... and the host still boots in service" in_service 1 || show
	check "provision --force replaces the identity" provision --force
	check "... with a new host key" bash -c "! cmp -s '$W/st/keys/host.pub' '$W/host.pub.1'"
	boot
	check "... and the new store boots in service" in_service 1 || show
}

case_tamper() {
	mkimages
	pkg v1 img1 1 1
	# Another host identity on the same TPM (its keys and store are used
	# below as an attacker's), provisioned first: provisioning advances the
	# shared NV counter, which would otherwise roll the main store back.
	"$FT" provision --state "$W/other" --controller "$W/ctl" --package "$W/v1.pkg" \
		>/dev/null 2>&1 || fail "second state dir"
	provision || die "provision: $(cat "$W/prov.out")"
	cp -a "$W/st" "$W/pristine"
	cp "$W/ctl" "$W/ctl.good"
	fresh() { rm -rf "$W/st"; cp -a "$W/pristine" "$W/st"; cp "$W/ctl.good" "$W/ctl"; }
	try() {	# try DESC REASON
		boot
		check "$1 -> out of service: $2" out_of_service "$2" || show
		fresh
	}
	boot
	check "untampered store boots" in_service 1 || show

	flip "$W/st/fw/slot-A/ward-blk.img" 5000
	try "one bit of an encrypted image changed" "ward-blk in slot A failed authentication"
	flip "$W/st/fw/slot-A/hello.img" -1
	try "one bit of an image's GCM tag changed" "hello in slot A failed authentication"
	mv "$W/st/fw/slot-A/spin.img" "$W/st/fw/slot-A/x"
	mv "$W/st/fw/slot-A/hello.img" "$W/st/fw/slot-A/spin.img"
	mv "$W/st/fw/slot-A/x" "$W/st/fw/slot-A/hello.img"
	try "two images swapped" "image hello in slot A"
	flip "$W/st/fw/slot-A/manifest" 40
	try "one byte of the manifest changed" "manifest signature does not verify"
	flip "$W/st/fw/slot-A/manifest" -3
	try "one byte of the manifest signature changed" "manifest signature does not verify"
	printf 'X' >>"$W/st/fw/slot-A/manifest"
	try "a byte appended to the manifest" "manifest: .*after the images"
	flip "$W/st/fw/slot-A/golden" 20
	try "one byte of a golden PCR value changed" "golden set signature does not verify"
	flip "$W/st/fw/slot-A/golden" -2
	try "one byte of the golden signature changed" "golden set signature does not verify"
	printf '\0' >>"$W/ctl"
	try "controller binary swapped (one byte appended)" \
		"store key did not unseal: boot measurements differ"
	# The controller started without ward-boot: PCR 12 is zero.
	reboot
	WARD_EVENT_LOG="$W/log" "$W/ctl" run --state "$W/st" >"$W/out" 2>"$W/err"
	check "controller run without ward-boot -> store key did not unseal" \
		out_of_service "store key did not unseal: boot measurements differ" || show
	# Something measured into PCR 13 before the controller unseals: the key
	# opens only while PCRs 13 and 15 are still zero. With PCR 13 set the
	# controller takes the restart path, which refuses this state too
	# (docs/controller.md "Restarting the controller").
	reboot
	tpm2_pcrextend "12:sha256=$(sha256sum "$W/ctl" | cut -d' ' -f1)" >/dev/null
	tpm2_pcrextend "13:sha256=$(printf x | sha256sum | cut -d' ' -f1)" >/dev/null
	WARD_EVENT_LOG="$W/log" "$W/ctl" run --state "$W/st" >"$W/out" 2>"$W/err"
	check "PCR 13 extended before the unseal -> out of service, no restart either" \
		out_of_service "controller restart refused" || show
	# A golden set correctly signed, but for another controller: PCR 12
	# then differs from the signed expectation.
	cp "$W/ctl" "$W/ctl.other"; printf 'other' >>"$W/ctl.other"
	"$FT" sign-golden --state "$W/st" --slot A --controller "$W/ctl.other" || fail "sign-golden"
	try "golden set signed for another controller" "differ from the golden set at PCR 12"
	# Golden signing key replaced by another TPM key: not the pinned one.
	cp "$W/other/keys/audit-sign.blob" "$W/st/keys/audit-sign.blob"
	"$FT" sign-golden --state "$W/st" --slot A --controller "$W/ctl" || fail "sign-golden"
	try "golden set re-signed by an unpinned TPM key" "not the one provisioned"
	# A store from another provisioning (other store key) in this slot.
	rm -rf "$W/st/fw/slot-A"; cp -a "$W/other/fw/slot-A" "$W/st/fw/slot-A"
	try "slot copied from another host's store" "failed authentication"
	# Wrong vendor key.
	openssl genpkey -algorithm ed25519 -out "$W/evil.pem" 2>/dev/null
	"$FT" build-store --images "$W/img1" --key "$W/evil.pem" --version 1 --counter 1 \
		-o "$W/evil.pkg" || fail "evil pkg"
	rm -rf "$W/evilst"
	"$FT" provision --state "$W/evilst" --controller "$W/ctl" --package "$W/evil.pkg" \
		>"$W/prov.out" 2>&1
	check "provisioning refuses a package not signed by the vendor key" \
		grep -q "does not verify with the vendor key" "$W/prov.out"
	boot --update "$W/evil.pkg"
	check "update refuses a package not signed by the vendor key" \
		grep -q "^update=package signature does not verify" "$W/out" || show
	rm -f "$W/st/fw/boot-secret.blob"
	try "sealed store key missing" "not provisioned"
}

case_update() {
	mkimages
	pkg v1 img1 1 1
	pkg v2 img2 2 1
	pkg v3 img2 3 2
	pkg v4 img1 4 1
	pkg v5 img1 5 2
	pkg old img1 1 5	# validly signed, older version, high counter
	pkg expired img1 9 9 --expiry 1000000000
	provision || die "provision: $(cat "$W/prov.out")"
	boot --update "$W/v2.pkg"
	check "update to version 2 staged" grep -q "^update=staged" "$W/out" || show
	check "... into the inactive slot B, pointer on trial" test -s "$W/st/fw/slot-B/manifest"
	boot
	check "after reboot: in service with version 2 from slot B" \
		bash -c "grep -q '^slot=B' '$W/out'" && in_service 2 || show
	h=$(sha256sum "$W/img2/blk-check.elf" | cut -d' ' -f1)
	check "... and the new guest image is returned" grep -q "guest blk-check sha256=$h" "$W/out"
	boot
	check "version 2 stays confirmed across reboots" in_service 2 || show
	cp -a "$W/st" "$W/st-v2"
	boot --update "$W/v1.pkg"
	check "validly signed OLDER package refused" \
		grep -q "^update=package version 1 is not newer than the installed 2" "$W/out" || show
	boot --update "$W/old.pkg"
	check "validly signed package with an old version but high counter refused" \
		grep -q "^update=package version 1 is not newer" "$W/out"
	boot --update "$W/expired.pkg"
	check "expired package refused" grep -q "^update=package expired" "$W/out"
	boot --update "$W/v3.pkg"
	check "update to version 3 (security counter 2) staged" grep -q "^update=staged" "$W/out"
	boot
	check "version 3 boots from slot A" in_service 3 || show
	boot --update "$W/v4.pkg"
	check "newer version with a lower security counter refused (rollback)" \
		grep -q "^update=package security counter 1 is below the TPM's 2" "$W/out" || show
	# Restoring an old state directory cannot roll back: the TPM counter moved.
	mv "$W/st" "$W/st-v3"; cp -a "$W/st-v2" "$W/st"
	boot
	check "state dir rolled back to version 2 -> out of service" \
		out_of_service "security counter 1 is below the TPM's 2" || show
	rm -rf "$W/st"; mv "$W/st-v3" "$W/st"
	boot
	check "the current store still boots" in_service 3 || show
	# A new slot that fails verification falls back to the old one.
	boot --update "$W/v5.pkg"
	check "update to version 5 staged" grep -q "^update=staged" "$W/out"
	flip "$W/st/fw/slot-B/ward-hv.img" 100
	boot
	check "damaged new slot: falls back to version 3 automatically" in_service 3 || show
	check "... and says so" grep -q "^reason=.*fell back" "$W/out"
	boot
	check "... and keeps booting version 3" in_service 3 || show
	# A new slot that verifies but measures differently from its golden set
	# (signed for another controller): out of service once, reverted.
	boot --update "$W/v5.pkg"
	check "update to version 5 staged again" grep -q "^update=staged" "$W/out"
	cp "$W/ctl" "$W/ctl.other"; printf 'other' >>"$W/ctl.other"
	"$FT" sign-golden --state "$W/st" --slot B --controller "$W/ctl.other" || fail "sign-golden"
	boot
	check "new slot off its golden set -> out of service, reverted for the next boot" \
		out_of_service "differ from the golden set at PCR 12; reverted to slot A" || show
	boot
	check "... and the next boot is version 3 again" in_service 3 || show
}

# MCUboot-sim-style power cuts: interrupt after every single write of the
# update (phase 1) and of the first boot of the new slot (phase 2); every
# interruption must leave a host that boots version 1 or 2, never neither.
case_powerfail() {
	# The cuts come from the fault-injection hook, built only with
	# -Dtest_hooks=true (make test's build dirs); a default build has none.
	if [ "${WARD_TEST_HOOKS:-0}" != 1 ]; then
		echo "SKIP: this build has no fault-injection hooks (-Dtest_hooks=false)"
		exit 77
	fi
	mkimages
	pkg v1 img1 1 1
	pkg v2 img2 2 1	# same counter: the TPM counter must not move in this loop
	provision || die "provision: $(cat "$W/prov.out")"
	cp -a "$W/st" "$W/base"
	boot --update "$W/v2.pkg"
	grep -q "^update=staged" "$W/out" || die "update does not stage: $(cat "$W/out")"
	cp -a "$W/st" "$W/staged"

	for phase in update confirm; do
		local n=0 seen1=0 seen2=0 bad=0 done=0
		while [ $n -lt 300 ]; do
			n=$((n + 1))
			rm -rf "$W/st"
			if [ $phase = update ]; then
				cp -a "$W/base" "$W/st"
				WARD_FW_FAIL_AFTER_WRITES=$n boot --update "$W/v2.pkg"
			else
				cp -a "$W/staged" "$W/st"
				WARD_FW_FAIL_AFTER_WRITES=$n boot
			fi
			cut=$brc
			[ $cut = 0 ] && done=1
			[ $cut = 0 ] || [ $cut = 99 ] || { fail "$phase cut $n: exit $cut"; show; }
			for again in 1 2; do
				boot
				v=$(field version)
				if [ "$(field in_service)" = 1 ] && { [ "$v" = 1 ] || [ "$v" = 2 ]; }; then
					[ $v = 1 ] && seen1=$((seen1 + 1))
					[ $v = 2 ] && seen2=$((seen2 + 1))
				else
					bad=$((bad + 1))
					echo "    # $phase: cut after write $n, boot $again: not in service"
					show
				fi
			done
			[ $done = 1 ] && break
		done
		check "$phase: the run without a cut completes (after $((n - 1)) cuts)" test $done = 1
		check "$phase: every one of $((n - 1)) power cuts leaves a bootable host (old or new)" \
			test $bad = 0
		check "$phase: both outcomes occur (old $seen1, new $seen2)" \
			test $seen1 -gt 0 -a $seen2 -gt 0
	done
}

# A FIFO in place of a store file: the boot ends at once, out of service,
# naming the file. (Opened blocking, a FIFO nobody writes hung the start
# for ever: no log line, no API, no exit; `timeout` bounds that here.)
case_fifo() {
	mkimages
	pkg v1 img1 1 1
	provision || die "provision: $(cat "$W/prov.out")"
	cp -a "$W/st" "$W/pristine"
	for f in fw/pointer fw/slot-A/manifest fw/slot-A/golden fw/slot-A/hello.img \
		 fw/boot-secret.blob; do
		rm -rf "$W/st"; cp -a "$W/pristine" "$W/st"
		rm "$W/st/$f" && mkfifo "$W/st/$f" || die "mkfifo $f"
		reboot
		timeout 60 "$BOOT" --event-log "$W/log" "$W/ctl" run --state "$W/st" \
			>"$W/out" 2>"$W/err"
		rc=$?
		check "FIFO as $f: the start ends by itself (exit $rc; 124 = hung)" test $rc != 124
		check "... out of service, the reason names $f, not a regular file" \
			out_of_service "$f.*not a regular file" || show
	done
}

case "$case_name" in
fifo) case_fifo ;;
provision) case_provision ;;
tamper) case_tamper ;;
update) case_update ;;
powerfail) case_powerfail ;;
*) die "unknown case $case_name" ;;
esac
echo "$fails failed"
[ $fails = 0 ]
