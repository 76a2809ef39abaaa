#!/usr/bin/env bash
# obs_logs.sh: the one log line format (docs/observability.md) as daemons
# write it, and error names instead of numbers: ward-kms with a wrong token
# PIN names CKR_PIN_INCORRECT; ward-blk with a missing key file names ENOENT;
# a value with spaces is quoted. Unit-level checks: tests/lib/test_log.c.
. "$(dirname "$0")/../kms/lib.sh"
BLK=$WARD_BUILD_ROOT/src/blk/ward-blk
LINE='^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z level=(debug|info|warn|error) comp=[a-z]+ msg="'
kms_setup

echo 4321 >"$T/wrong-pin"
"$KMS" --db "$T/kms.db" --pin-file "$T/wrong-pin" --pkcs11-module "$SOFTHSM_MODULE" \
	--cert "$T/srv.pem" --key "$T/srv.key" --port 0 serve >"$T/wrongpin.log" 2>&1 &&
	fail "ward-kms served with a wrong PIN"
grep -Eq "${LINE}PKCS#11 login failed\" rv=CKR_PIN_INCORRECT\$" "$T/wrongpin.log" ||
	fail "no CKR_PIN_INCORRECT line: $(cat "$T/wrongpin.log")"
pass "a wrong PIN is logged as rv=CKR_PIN_INCORRECT in the one line format"

mkdir "$T/a dir"
"$BLK" --socket "$T/blk.sock" --backing "$T/a dir/disk.img" --size 1M --create \
	--key-file "$T/a dir/no-such-key" >"$T/blk.log" 2>&1 && fail "ward-blk ran without its key"
grep -Eq "${LINE}cannot open key file\" path=\"$T/a dir/no-such-key\" errno=ENOENT\$" "$T/blk.log" ||
	fail "no ENOENT line with a quoted path: $(cat "$T/blk.log")"
pass "ward-blk names ENOENT and quotes a path with a space"

# Every line either daemon wrote has the layout.
bad=$(grep -hEv "$LINE" "$T/wrongpin.log" "$T/blk.log" | grep -v '^ward-' || true)
[ -z "$bad" ] || fail "lines outside the format: $bad"
pass "every log line has ts= level= comp= msg= first"
