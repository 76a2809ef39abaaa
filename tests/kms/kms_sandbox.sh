#!/usr/bin/env bash
# ward-kms locks itself down before it serves (src/kms/allowlist.c): every
# thread is under the seccomp filter (read back from /proc), requests that
# touch SQLite and the SoftHSM2 token still work, Landlock refuses a file
# outside the database and token directories, and a forbidden call from the
# main thread or a worker kills the process with SIGSYS.
. "$(dirname "$0")/lib.sh"
kms_setup
add_user alice --admin

# A hook's exit: start ward-kms with the hook armed and wait for it to die.
expect_sigsys() {
	local hook=$1 call=$2 rc=0
	WARD_KMS_TEST_FORBIDDEN=$hook KMS_THREADS=2 kms_start || true
	# A call that was not blocked leaves it serving: stop it, and fail.
	for _ in $(seq 600); do
		kill -0 "$KMS_PID" 2>/dev/null || break
		grep -q "was NOT blocked" "$T/server.log" && { kill -9 "$KMS_PID"; break; }
		sleep 0.05
	done
	wait "$KMS_PID" || rc=$?
	KMS_PID=
	if ! grep -q "test hook: ${hook%%/*} thread attempts $call()" "$T/server.log"; then
		grep -q "test hook" "$T/server.log" ||
			skip "ward-kms was built without test hooks (-Dtest_hooks=false)"
		fail "$hook: ward-kms did not reach its hook (exit $rc)"
	fi
	[ "$rc" -eq 159 ] || fail "$hook: exit status $rc, want 159 (SIGSYS)"
	grep -q "$call() was NOT blocked" "$T/server.log" && fail "$hook: $call() was not blocked"
	: > "$T/server.log"
}

KMS_THREADS=2 kms_start
# The port file is written just before the lockdown: wait for its log line.
# then for a worker thread (they start after it).
for _ in $(seq 600); do grep -q "locked down" "$T/server.log" && break; sleep 0.05; done
for _ in $(seq 600); do
	[ "$(ls /proc/"$KMS_PID"/task | wc -l)" -ge 2 ] && break
	sleep 0.05
done
# Seccomp 2 = filter mode, on every thread (the workers start after it).
n=0
for t in /proc/"$KMS_PID"/task/*; do
	grep -q "^Seccomp:[[:space:]]*2" "$t/status" || fail "thread $(cat "$t/comm") is not filtered"
	f=$(awk '/^Seccomp_filters:/ {print $2}' "$t/status")
	[ "${f:-0}" -ge 1 ] || fail "thread $(cat "$t/comm"): Seccomp_filters ${f:-absent}"
	n=$((n + 1))
done
[ "$n" -ge 2 ] || fail "expected the main thread and a worker, found $n threads"
grep -q "locked down" "$T/server.log" || fail "no lockdown line in the log"
pass "every ward-kms thread ($n) runs under the seccomp filter"

# Work after lockdown: new token objects (SoftHSM2 files), SQLite writes.
KID=$(call alice CreateKey '{}' | jget KeyMetadata.KeyId) || fail "CreateKey after lockdown"
CT=$(call alice Encrypt "{\"KeyId\":\"$KID\",\"Plaintext\":\"aGk=\"}" | jget CiphertextBlob) \
	|| fail "Encrypt after lockdown"
[ "$(call alice Decrypt "{\"CiphertextBlob\":\"$CT\"}" | jget Plaintext)" = aGk= ] \
	|| fail "Decrypt after lockdown"
call alice ScheduleKeyDeletion "{\"KeyId\":\"$KID\",\"PendingWindowInDays\":7}" >/dev/null \
	|| fail "ScheduleKeyDeletion after lockdown"
kill -0 "$KMS_PID" 2>/dev/null || fail "ward-kms died serving requests"
pass "CreateKey, Encrypt, Decrypt, ScheduleKeyDeletion work under the lockdown"
# Stopping (libevent restores signal handlers, SQLite and the HSM close)
# is under the filter too.
kill "$KMS_PID"
rc=0; wait "$KMS_PID" || rc=$?
KMS_PID=
[ "$rc" -eq 0 ] || fail "ward-kms exited with status $rc on SIGTERM (159: a call the filter kills)"
pass "SIGTERM: a clean exit under the lockdown"

# Landlock: the pin file sits in the database's directory (allowed); a file
# the KMS never needs is refused, although ward-kms runs as root here.
OUTSIDE=$(mktemp /tmp/ward-kms-outside.XXXXXX)
for f in "$T/pin" "$OUTSIDE"; do
	WARD_KMS_TEST_FORBIDDEN="main/open:$f" KMS_THREADS=2 kms_start
	kms_stop
done
rm -f "$OUTSIDE"
if grep -q "Landlock not available" "$T/server.log"; then
	echo "note: this kernel has no Landlock; the filesystem check is not made"
else
	grep -q "test hook: main open($T/pin) = ok" "$T/server.log" ||
		fail "a file in the database directory was refused: $(grep 'test hook' "$T/server.log")"
	grep -q "test hook: main open($OUTSIDE) = Permission denied" "$T/server.log" ||
		fail "a file outside the allowed directories was opened: $(grep 'test hook' "$T/server.log")"
	pass "Landlock: the database directory is reachable, anything else is EACCES"
fi
: > "$T/server.log"

# A unix stream socket (D-Bus, systemd's sockets, other daemons') is
# refused with EACCES: only syslog's datagram socket is allowed.
WARD_KMS_TEST_FORBIDDEN="main/unixstream" KMS_THREADS=2 kms_start
kms_stop
grep -q "test hook: main socket(AF_UNIX, SOCK_STREAM) = Permission denied" "$T/server.log" ||
	fail "a unix stream socket was not refused: $(grep 'test hook' "$T/server.log")"
pass "socket(AF_UNIX, SOCK_STREAM) after lockdown: EACCES"
: > "$T/server.log"

expect_sigsys main socket
expect_sigsys worker socket
expect_sigsys main/ptrace ptrace
expect_sigsys worker/io_uring_setup io_uring_setup
pass "socket(AF_INET), ptrace, io_uring_setup from the main thread or a worker: SIGSYS"
# tgkill only into ward-kms itself (raise, pthread_kill): into another
# process (the test shell, root like ward-kms) it is killed.
expect_sigsys main/tgkill tgkill
expect_sigsys worker/tgkill tgkill
WARD_KMS_TEST_FORBIDDEN="main/tgkill-self" KMS_THREADS=2 kms_start
kms_stop
grep -q "test hook: main tgkill(self) = ok" "$T/server.log" ||
	fail "tgkill into ward-kms itself was refused: $(grep 'test hook' "$T/server.log")"
: > "$T/server.log"
pass "tgkill into another process: SIGSYS; into ward-kms itself: allowed"
