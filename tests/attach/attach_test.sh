#!/usr/bin/env bash
# attach_test.sh flow|refusals|readopt: issue 5's attach flow end to end — swtpm,
# SoftHSM2 + ward-kms, `ward volume` (control plane), the dev controller,
# ward-blk and the blk-check guest — and every refusal, each ending in a
# clear error with no VM launched and no key material anywhere, and cards
# that outlive a controller restart.
. "$WARD_SOURCE_ROOT/tests/attach/lib.sh"
CASE=${1:?flow|refusals|readopt}
attach_need
attach_setup

# expect_refusal DESC STATUS PATTERN BODY: POST /v1/instances must fail
# with STATUS and a message matching PATTERN; nothing launched, no ward-blk.
expect_refusal() {
	local before
	before=$(ls "$S/instances" | wc -l)
	req cp POST /v1/instances "$4"
	check "$1: HTTP $2 (got $STATUS)" [ "$STATUS" = "$2" ]
	check "$1: the error names the step and reason" grep -qE "$3" "$W/body"
	echo "   $(cat "$W/body")"
	check "$1: no instance launched" [ "$(ls "$S/instances" | wc -l)" = "$before" ]
	check "$1: no ward-blk left" bash -c "! pgrep -P $CTL_PID -x ward-blk >/dev/null"
}

spec() { wv alice attach "$1" --image blk-check --memory 64 --spec-only "${@:2}"; }
grants_left() { as alice list-grants --key-id "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Grants"]))'; }
audit_has() { grep -rqa "$1" "$S/audit"; }

KID=$(make_key)
[ -n "$KID" ] || { echo "FAIL: create-key"; exit 1; }
wv alice create --size 16M --kms-key "$KID" --id vol-1 >"$W/create.out" ||
	{ cat "$W/create.out"; echo "FAIL: volume create"; exit 1; }
check "create: the volume's data key is stored only wrapped" \
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["volumes"]["vol-1"]; assert v["encrypted_key"] and v["encryption_context"]=={"ward:volume":"vol-1"} and v["attachment"] is None' "$CP/volumes.json"
KEY1=$(volume_key vol-1)
check "the test learned the 64-byte data key from KMS as its owner" [ ${#KEY1} = 128 ]

case $CASE in
flow)
	# 1. attach = launch: blk-check in the instance checks the volume.
	t0=$(date +%s%N)
	wv alice attach vol-1 --image blk-check --memory 64 >"$W/attach.out" 2>"$W/attach.err"
	rc=$?
	echo "attach took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	check "ward volume attach succeeds" [ "$rc" = 0 ]
	cat "$W/attach.out" "$W/attach.err"
	ID=$(json_get '["id"]' <"$W/attach.out")
	check "the instance lists its volume" grep -q '"volumes": *\["vol-1"\]' "$W/attach.out"
	code=$(wait_exit "$ID")
	check "blk-check in the instance: exit 0 (got $code)" [ "$code" = 0 ]
	# The guest exited: its volume key is wiped and ward-blk is gone.
	sleep 0.3
	check "instance exit: ward-blk stopped" bash -c "! pgrep -P $CTL_PID -x ward-blk >/dev/null"
	check "audit: attach requested, key unsealed, attached, detached with key wiped" \
		bash -c "grep -rqa 'attach requested' '$S/audit' && grep -rqa 'key unsealed' '$S/audit' && grep -rqa '\"attached\"' '$S/audit' && grep -rqa '\"key_wiped\":true' '$S/audit'"
	# 2. the backing store holds only ciphertext of what the guest wrote.
	python3 - "$CP/volumes/vol-1.img" "$KEY1" <<'EOF' && ok "backing store: ciphertext only; decrypts with the data key to blk-check's pattern" || fail "backing store check"
import struct, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
data, key = open(sys.argv[1], 'rb').read(4096), bytes.fromhex(sys.argv[2])
def patterned(b):  # blk-check: word i ^ word i+1 == i ^ (i+1) in a 512-byte sector
    w = struct.unpack('<64Q', b[:512])
    return all(w[i] ^ w[i + 1] == i ^ (i + 1) for i in range(63))
assert data != bytes(4096), "the guest's writes never reached the store"
assert not patterned(data), "plaintext pattern found in the backing file"
d = Cipher(algorithms.AES(key), modes.XTS((0).to_bytes(16, 'little'))).decryptor()
assert patterned(d.update(data) + d.finalize()), "sector 0 does not decrypt to the pattern"
EOF
	# 3. detach: grant retired; re-attach needs the whole flow again.
	wv alice detach vol-1 >"$W/detach.out" 2>&1
	check "ward volume detach succeeds" grep -q '"grant_retired":"[0-9a-f]' "$W/detach.out"
	cat "$W/detach.out"
	check "KMS: no grant left on the key" [ "$(grants_left "$KID")" = 0 ]
	# 4. a running instance: the key is in ward-blk, DELETE wipes it.
	wv alice attach vol-1 --image spin --memory 64 >"$W/attach2.out" 2>&1
	check "second attach (spin guest) succeeds" grep -q '"state": *"running"' "$W/attach2.out"
	ID2=$(json_get '["id"]' <"$W/attach2.out")
	BPID=$(ward_blk_pids)
	printf '%s' "$KEY1" | xxd -r -p >"$W/key.bin"
	check "while attached the key schedule is in ward-blk (scan works)" \
		/usr/bin/python3 "$SRC/tests/blk/memscan.py" "$BPID" "$W/key.bin" present
	rm -f "$W/key.bin"
	# The card is a tenant of its own: its uid is neither nobody, nor its
	# VM's, and the operator's uid can neither read nor trace it.
	HPID=$(json_get '["pid"]' <"$W/attach2.out")
	buid=$(awk '/^Uid:/ {print $2}' "/proc/$BPID/status")
	huid=$(awk '/^Uid:/ {print $2}' "/proc/$HPID/status")
	check "ward-blk runs as its own uid ($buid), not 65534 and not its VM's ($huid)" \
		bash -c "[ '$buid' != 65534 ] && [ '$buid' != '$huid' ] && [ '$buid' != 0 ] && grep -qE '^Uid:\s+$buid\s+$buid\s+$buid\s+$buid' /proc/$BPID/status"
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
		as_op() { setpriv --reuid 5000 --regid 5000 --clear-groups "$@"; }
		for f in mem environ; do
			check "the operator uid cannot read ward-blk's /proc/PID/$f" \
				bash -c "! setpriv --reuid 5000 --regid 5000 --clear-groups cat /proc/$BPID/$f >/dev/null 2>&1"
		done
		check "the operator uid can neither ptrace-attach nor process_vm_readv ward-blk" \
			as_op /usr/bin/python3 - "$BPID" <"$SRC/tests/security/peek.py"
	fi
	req cp POST "/v1/instances/$ID2/volumes" '{"volume_id":"vol-1","size_bytes":16777216}'
	check "hot-plug on a running instance: 409 with the reason" \
		bash -c "[ $STATUS = 409 ] && grep -q 'hot-plug is not supported' '$W/body'"
	wv alice detach vol-1 >"$W/detach2.out" 2>&1
	check "detach of a running instance's volume: key wiped, grant retired" \
		grep -q '"key_wiped":true,"host_answer":200,"grant_retired":"[0-9a-f]' "$W/detach2.out"
	cat "$W/detach2.out"
	check "after DETACH ward-blk is gone with its key" bash -c "! kill -0 $BPID 2>/dev/null"
	check "KMS: no grant left after the second detach" [ "$(grants_left "$KID")" = 0 ]
	req cp DELETE "/v1/instances/$ID2"
	check "instance stop" [ "$STATUS" = 200 ]
	# 5. the audit log verifies offline.
	ward_cli cp audit fetch --out "$W/auditx" >/dev/null
	check "ward audit verify" "$WARD" audit verify "$W/auditx" --pubkey "$S/keys/audit-sign.pub.pem"
	;;
readopt)
	# A controller restart (kill -9) does not take a running VM's disk: the
	# card keeps serving with no controller, and the next controller takes
	# it back (pidfd_getfd of the channel copy the card holds, QUERY).
	store=$CP/volumes/vol-1.img
	wv alice attach vol-1 --image bench-blk --memory 64 \
		--cmdline "mode=randwrite secs=30 qd=4" >"$W/attach.out" 2>&1
	check "attach with a writing guest (bench-blk randwrite)" grep -q '"state": *"running"' "$W/attach.out"
	ID=$(json_get '["id"]' <"$W/attach.out")
	BPID=$(ward_blk_pids)
	changes() { # the store changes within a second: the guest's writes land
		local a b
		a=$(md5sum <"$store"); sleep 1; b=$(md5sum <"$store")
		[ "$a" != "$b" ]
	}
	check "the guest's writes reach the store" changes
	kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null; CTL_PID=""
	sleep 0.5
	check "the card survives kill -9 of the controller" kill -0 "$BPID"
	check "with no controller the guest's writes still land" changes
	start_ctl_kms
	card_audited() { # EVENT INSTANCE: a "card" record of that event
		python3 -c 'import json,sys; sys.exit(not any(r.get("type")=="card" and r.get("event")==sys.argv[2] and r.get("instance")==sys.argv[3] for r in map(json.loads, open(sys.argv[1]))))' \
			"$S/audit/leaves" "$1" "$2"
	}
	gone() { ! [ -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status"; }
	check "the restarted controller re-adopts the card, audited" \
		card_audited adopted "$ID"
	req cp GET "/v1/instances/$ID"
	check "the instance still lists its volume" grep -q '"volumes":\["vol-1"\]' "$W/body"
	check "writes keep landing after the restart" changes
	wv alice detach vol-1 >"$W/detach.out" 2>&1
	check "detach through the new controller: key wiped, grant retired" \
		grep -q '"key_wiped":true,"host_answer":200,"grant_retired":"[0-9a-f]' "$W/detach.out"
	sleep 0.3
	check "the card is gone after the last detach" gone "$BPID"
	req cp DELETE "/v1/instances/$ID"

	# The VM ends while no controller runs: the card destroys the key by
	# itself, and the next controller releases the card.
	wv alice attach vol-1 --image spin --memory 64 >"$W/attach2.out" 2>&1
	ID2=$(json_get '["id"]' <"$W/attach2.out")
	HPID=$(json_get '["pid"]' <"$W/attach2.out")
	BPID=$(ward_blk_pids)
	printf '%s' "$KEY1" | xxd -r -p >"$W/key.bin"
	check "attached: the key schedule is in the card" \
		/usr/bin/python3 "$SRC/tests/blk/memscan.py" "$BPID" "$W/key.bin" present
	kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null; CTL_PID=""
	kill -9 "$HPID"
	sleep 0.5
	check "VM gone, no controller: the card destroyed the key itself" \
		/usr/bin/python3 "$SRC/tests/blk/memscan.py" "$BPID" "$W/key.bin" absent
	rm -f "$W/key.bin"
	start_ctl_kms
	sleep 0.3
	check "the restarted controller releases the card of the ended instance, audited" \
		card_audited released "$ID2"
	check "the released card has exited" gone "$BPID"
	check "no card record is left" bash -c "[ -z \"\$(ls '$S/cards')\" ]"
	wv alice detach vol-1 >/dev/null 2>&1
	;;
refusals)
	wv alice create --size 16M --kms-key "$KID" --id vol-2 >/dev/null || fail "create vol-2"
	KEY2=$(volume_key vol-2)
	# a. a caller the control plane lets attach, but whom KMS does not let Decrypt
	wv bob attach vol-1 --image blk-check --memory 64 >"$W/bob.out" 2>&1
	check "caller without Decrypt: attach fails" [ $? != 0 ]
	cat "$W/bob.out"
	check "caller without Decrypt: KMS's reason reaches the caller" \
		grep -q 'step 3 (KMS Decrypt for this host): KMS Decrypt refused: AccessDeniedException: User: .*/bob (forward access session)' "$W/bob.out"
	check "caller without Decrypt: grant retired" [ "$(grants_left "$KID")" = 0 ]
	check "caller without Decrypt: nothing launched" [ -z "$(ls "$S/instances")" ]
	# b. an expired forward access session
	spec vol-1 --fas-seconds 1 >"$W/spec-exp" || fail "spec"
	sleep 2.5
	expect_refusal "expired session" 403 'step 3.*AccessDeniedException: forward access session is invalid, expired or already used' "$(cat "$W/spec-exp")"
	wv alice detach vol-1 >/dev/null 2>&1 || fail "detach (retire) after expiry"
	# c. a replayed session: the first use launches, the replay is refused
	spec vol-1 >"$W/spec-rep" || fail "spec"
	req cp POST /v1/instances "$(cat "$W/spec-rep")"
	check "session first use: 201" [ "$STATUS" = 201 ]
	ID=$(json_get '["id"]' <<<"$BODY")
	check "first use: blk-check ok" [ "$(wait_exit "$ID")" = 0 ]
	req cp DELETE "/v1/instances/$ID"
	expect_refusal "replayed session" 403 'already used' "$(cat "$W/spec-rep")"
	wv alice detach vol-1 >/dev/null 2>&1 || fail "detach after replay"
	# d. a grant for another volume: vol-2's key with vol-1's grant + session
	spec vol-1 >"$W/spec-1" || fail "spec"
	python3 - "$W/spec-1" "$CP/volumes.json" >"$W/spec-mix" <<'EOF'
import json, sys
s, v = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))["volumes"]["vol-2"]
d = s["volumes"][0]
d.update(volume_id="vol-2", backing=v["backing"], encrypted_key=v["encrypted_key"],
         encryption_context=v["encryption_context"])
print(json.dumps(s))
EOF
	expect_refusal "grant for another volume" 403 'step 3.*AccessDeniedException.*host1 is not authorized to perform: kms:Decrypt' "$(cat "$W/spec-mix")"
	# e1. asking KMS to seal to another host's key
	stop_ctl
	start_ctl --kms-url "$KMS_URL" --kms-cert "$T/host1.pem" --kms-key "$T/host1.key" \
		--kms-ca "$T/ca.pem" --host-id host2
	expect_refusal "another host's key (Recipient host2)" 403 'a host may only request key material sealed to itself' "$(cat "$W/spec-1")"
	wv alice detach vol-1 >/dev/null 2>&1 || fail "detach"
	# e2. a key sealed to a host key this TPM does not hold (re-provisioned host)
	stop_ctl
	mkdir "$W/oldkeys" && mv "$S"/keys/dev-host.* "$W/oldkeys/"
	start_ctl_kms
	expect_refusal "sealed to another host's key" 422 "step 4: the sealed key does not open with this host's key" "$(spec vol-1)"
	wv alice detach vol-1 >/dev/null 2>&1 || fail "detach"
	stop_ctl
	rm -f "$S"/keys/dev-host.* && mv "$W"/oldkeys/* "$S/keys/"
	start_ctl_kms
	# g. a grant the key owner revoked
	spec vol-1 >"$W/spec-rev" || fail "spec"
	GID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["volumes"]["vol-1"]["attachment"]["grant_id"])' "$CP/volumes.json")
	as alice revoke-grant --key-id "$KID" --grant-id "$GID" >/dev/null || fail "revoke-grant"
	expect_refusal "revoked grant" 403 'step 3.*AccessDeniedException.*host1 is not authorized' "$(cat "$W/spec-rev")"
	wv alice detach vol-1 >/dev/null 2>&1 || fail "detach of a revoked grant's attachment"
	# h. a key pending deletion
	KID3=$(make_key)
	wv alice create --size 16M --kms-key "$KID3" --id vol-3 >/dev/null || fail "create vol-3"
	KEY3=$(volume_key vol-3)
	spec vol-3 >"$W/spec-del" || fail "spec"
	as alice schedule-key-deletion --key-id "$KID3" --pending-window-in-days 7 >/dev/null || fail "schedule deletion"
	expect_refusal "key pending deletion" 409 'step 3.*KMSInvalidStateException' "$(cat "$W/spec-del")"
	wv alice detach vol-3 >"$W/del-detach.out" 2>&1
	wv alice attach vol-3 --image blk-check --memory 64 >"$W/del.out" 2>&1
	check "key pending deletion: ward volume attach fails with KMS's reason" \
		grep -q 'KMSInvalidStateException' "$W/del.out"
	# f. a host whose PCRs changed: the TPM refuses the host key
	spec vol-1 >"$W/spec-pcr" || fail "spec"
	tpm2_pcrextend "12:sha256=$(printf '%064d' 1)" || fail "pcrextend"
	expect_refusal "host PCRs changed" 503 'step 4 \(TPM2_ECDH_ZGen on the host key\) refused by the TPM: .*PCR policy not satisfied' "$(cat "$W/spec-pcr")"
	wv alice detach vol-1 >/dev/null 2>&1 || fail "detach"
	check "audit: every refusal recorded with its reason" \
		bash -c "[ \$(grep -rao 'attach refused' '$S/audit' | wc -l) -ge 9 ]"
	check "KMS: no grant left on either key" [ "$(grants_left "$KID")" = 0 ]
	no_key_anywhere "$KEY2" "$S" "$W/ctl.log" "$CP" "$T/server.log" "$W/all-responses" "$W"/*.out ||
		fail "vol-2's key found"
	no_key_anywhere "$KEY3" "$S" "$W/ctl.log" "$CP" "$T/server.log" "$W/all-responses" ||
		fail "vol-3's key found"
	;;
esac
stop_ctl
no_key_anywhere "$KEY1" "$S" "$W/ctl.log" "$CP" "$T/server.log" "$W/all-responses" "$W"/*.out "$W"/*.err ||
	fail "key material found"
ok "no key material in the controller's state dir, its logs, the audit log, the control-plane dir, the backing file or any response"
finish
