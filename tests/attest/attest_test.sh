#!/usr/bin/env bash
# attest_test.sh HV_STANDIN ATTEST_TOOL: host attestation against the real
# measured controller on swtpm (docs/attestation.md). ward-fwtool provisions
# a store, the TPM is power-cycled, ward-boot measures the controller and
# the controller measures the store; then, over the controller's mTLS API:
# MakeCredential (software, src/lib/quote.c) -> ActivateCredential on the
# TPM returns the secret; a quote over PCRs 12/13/15 with the event log is
# verified by the library AND by tpm2_checkquote (fed the PCR values
# tpm2_eventlog replays from the same log), and the two agree on every
# quote: healthy (both accept), wrong nonce, edited event log, a quote by
# another AK on the same TPM (CVE-2022-1053), a PCR extended after boot
# (all refused by both), and a re-provisioned, swapped controller binary
# (a genuine quote: tpm2_checkquote accepts it, the golden set refuses it).
source "$WARD_SOURCE_ROOT/tests/controller/lib.sh"
STANDIN=${1:?hv_standin path} TOOL=${2:?attest_tool path}
source "$WARD_SOURCE_ROOT/tests/attest/lib.sh"

b64file() { "$TOOL" get "$W/body" "$1" | base64 -d >"$2"; }

# register: the keys, then MakeCredential -> ActivateCredential. Leaves
# the AK public (the one proved bound to the EK) in $W/ak.pub.
register() {
	req cp GET /v1/attestation/keys
	[ "$STATUS" = 200 ] || { echo "$BODY"; fail "GET /v1/attestation/keys: $STATUS"; return 1; }
	b64file ek_public "$W/ek.pub"
	b64file ak_public "$W/ak.pub"
	head -c 32 /dev/urandom >"$W/cred"
	"$TOOL" makecred "$W/ek.pub" "$W/ak.pub" "$W/cred" "$W/cred.blob" "$W/cred.secret" ||
		{ fail "MakeCredential"; return 1; }
	req cp POST /v1/attestation/activate "{\"credential\":\"$(base64 -w0 "$W/cred.blob")\",\"secret\":\"$(base64 -w0 "$W/cred.secret")\"}"
	[ "$STATUS" = 200 ] || { echo "$BODY"; fail "ActivateCredential: $STATUS"; return 1; }
	b64file secret "$W/cred.back"
	cmp -s "$W/cred" "$W/cred.back" || { fail "ActivateCredential returned another secret"; return 1; }
	"$TOOL" akpem "$W/ak.pub" "$W/ak.pem"
}

# get_quote NONCE: the controller's answer in $W/q.{msg,sig,log}.
get_quote() {
	req cp POST /v1/attestation/quote "{\"nonce\":\"$1\"}"
	[ "$STATUS" = 200 ] || { echo "$BODY"; fail "quote: $STATUS"; return 1; }
	b64file quote "$W/q.msg"
	b64file signature "$W/q.sig"
	b64file event_log "$W/q.log"
}

# replay_pcrs LOG OUT: PCRs 12, 13, 15 as tpm2_eventlog (an implementation
# independent of ward's) replays LOG, raw and concatenated.
replay_pcrs() {
	tpm2_eventlog "$1" 2>/dev/null | awk '
		/^ *sha256:/ { bank = 1; next }
		bank && match($0, /^ *(12|13|15) *: *0x[0-9A-Fa-f]+/) {
			split($0, f, "0x"); v[$1 + 0] = f[2]
		}
		END { printf "%s%s%s", v[12], v[13], v[15] }' | "$TOOL" unhex "$2"
}

# judge NAME AKPEM AKPUB NONCE LOG EXPECT_OURS EXPECT_CHECKQUOTE [REASON]:
# both verifiers on the quote in $W/q.msg/q.sig, the expected verdicts
# (ok|refused), and for a refusal the reason the library must give.
judge() {
	local name=$1 pem=$2 pub=$3 nonce=$4 log=$5 want=$6 want_cq=$7 why=${8-}
	local ours cq out
	replay_pcrs "$log" "$W/q.pcrs"
	out=$("$TOOL" verify "$pub" "$W/q.msg" "$W/q.sig" "$log" "$W/golden" rel-1 "$nonce")
	[ $? = 0 ] && ours=ok || ours=refused
	tpm2_checkquote -u "$pem" -m "$W/q.msg" -s "$W/q.sig" -f "$W/q.pcrs" -l sha256:12,13,15 \
		-q "$nonce" -g sha256 >/dev/null 2>&1 && cq=ok || cq=refused
	check "$name: ward's verifier says $want ($out)" [ "$ours" = "$want" ]
	check "$name: tpm2_checkquote says $want_cq" [ "$cq" = "$want_cq" ]
	[ -z "$why" ] || check "$name: the reason names it ($why)" grep -q -- "$why" <<<"$out"
	[ "$want" = "$want_cq" ] && [ "$ours" = "$cq" ] && AGREED=$((AGREED + 1))
	QUOTES=$((QUOTES + 1))
}
AGREED=0 QUOTES=0

# 1. A healthy host: registered, its quote verifies both ways.
boot "$W/ctl"
register || { finish; exit 1; }
ok "MakeCredential (software) -> ActivateCredential (swtpm) returns the secret"
N=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
get_quote "$N" || { finish; exit 1; }
judge healthy "$W/ak.pem" "$W/ak.pub" "$N" "$W/q.log" ok ok
check "the quoted PCR 12 is the controller's measurement from the event log" \
	[ "$("$TOOL" get "$W/body" pcrs 12)" = "$(od -An -tx1 -N32 "$W/q.pcrs" | tr -d ' \n')" ]

# 2. A wrong nonce (a replayed quote): refused.
N2=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
judge "wrong nonce" "$W/ak.pem" "$W/ak.pub" "$N2" "$W/q.log" refused refused "nonce differs"

# 3. An edited event log (one digest bit of the last event flipped).
cp "$W/q.log" "$W/q.log.edit"
python3 - "$W/q.log.edit" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
# The last event's digest: it sits 32+4+datalen before the end; find it by
# walking the records (crypto-agile header first).
off = 32 + int.from_bytes(b[28:32], "little")
last = None
while off < len(b):
    last = off + 4 + 4 + 4 + 2
    off = last + 32
    off += 4 + int.from_bytes(b[off:off + 4], "little")
b[last] ^= 1
open(p, "wb").write(b)
PY
judge "edited event log" "$W/ak.pem" "$W/ak.pub" "$N" "$W/q.log.edit" refused refused \
	"does not replay to the quoted PCRs"

# 4. Another AK on the same TPM (Keylime CVE-2022-1053): a genuine quote
# over the right PCRs and nonce, but not by the AK bound to the EK.
# The controller stops meanwhile: swtpm has only three object slots and
# no resource manager, and the controller keeps its storage key loaded.
stop_ctl
tpm2_createek -c "$W/ek2.ctx" -G ecc -u "$W/ek2.pub" >/dev/null 2>"$W/tools.err" &&
	tpm2_createak -C "$W/ek2.ctx" -c "$W/ak2.ctx" -G ecc -g sha256 -s ecdsa \
		-u "$W/ak2.tpm" -f pem -n "$W/ak2.name" >/dev/null 2>>"$W/tools.err" ||
	{ cat "$W/tools.err"; fail "tpm2_createak"; finish; exit 1; }
mv "$W/ak2.tpm" "$W/ak2.pem"
tpm2_flushcontext -t >/dev/null 2>&1	# tpm2-tools leave them loaded
tpm2_quote -c "$W/ak2.ctx" -l sha256:12,13,15 -q "$N" -m "$W/q.msg" -s "$W/q.sig" -g sha256 \
	>/dev/null 2>"$W/tools.err" || { cat "$W/tools.err"; fail "tpm2_quote with the other AK"; finish; exit 1; }
tpm2_flushcontext -t >/dev/null 2>&1
judge "quote by another AK" "$W/ak.pem" "$W/ak.pub" "$N" "$W/q.log" refused refused \
	"signature does not verify"
replay_pcrs "$W/q.log" "$W/q.pcrs"
cq_ak2() {
	tpm2_checkquote -u "$W/ak2.pem" -m "$W/q.msg" -s "$W/q.sig" -f "$W/q.pcrs" \
		-l sha256:12,13,15 -q "$N" -g sha256 >/dev/null 2>&1
}
check "...while that quote is genuine for the other AK (tpm2_checkquote)" cq_ak2
# ...and the other AK cannot pass the identity check in the AK's place:
# a credential made for its name is refused by the TPM.
tpm2_readpublic -c "$W/ak2.ctx" -o "$W/ak2.pub" >/dev/null 2>&1
tpm2_flushcontext -t >/dev/null 2>&1
start "$W/ctl"	# a restart in the same boot: ward-boot resumes
if "$TOOL" makecred "$W/ek.pub" "$W/ak2.pub" "$W/cred" "$W/cred2.blob" "$W/cred2.secret" \
	>/dev/null; then
	req cp POST /v1/attestation/activate "{\"credential\":\"$(base64 -w0 "$W/cred2.blob")\",\"secret\":\"$(base64 -w0 "$W/cred2.secret")\"}"
	check "a credential for another AK's name is not released by the controller's AK (422)" \
		[ "$STATUS" = 422 ]
else
	fail "makecred for the other AK"
fi

# 5. A PCR extended after boot: the log no longer replays to the quote.
tpm2_pcrextend 13:sha256=$(printf '%064d' 7) >/dev/null 2>&1 || fail "tpm2_pcrextend"
N3=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
get_quote "$N3" || { finish; exit 1; }
judge "PCR 13 extended after boot" "$W/ak.pem" "$W/ak.pub" "$N3" "$W/q.log" refused refused \
	"does not replay"

# 6. A swapped controller binary, provisioned as if it were the release's:
# the boot is consistent and the quote genuine, the golden set refuses it.
stop_ctl
cp "$REAL" "$W/ctl2"
printf 'x' >>"$W/ctl2"
# A host provisioned afresh: its audit log starts anew, so the TPM's audit
# checkpoint counter goes too (as an owner of the host could do).
S=$W/state2
tpm2_nvundefine 0x01800101 >/dev/null 2>&1 || fail "tpm2_nvundefine of the audit counter"
boot "$W/ctl2"
register || { finish; exit 1; }
N4=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
get_quote "$N4" || { finish; exit 1; }
judge "swapped controller" "$W/ak.pem" "$W/ak.pub" "$N4" "$W/q.log" refused ok \
	"PCR 12 measurement 1"
stop_ctl

check "ward's verifier and tpm2_checkquote agreed on the quote check ($AGREED of $QUOTES; the swapped controller differs only by the golden set)" \
	[ "$AGREED" = $((QUOTES - 1)) ]
check "no raw tss2 line in the controller log" bash -c "! grep -q 'ERROR:esys' '$W/ctl.log'"
finish
