#!/usr/bin/env bash
# sandbox_test: ward-blk locks itself down before it serves. A live
# controller-mode ward-blk runs under seccomp on every thread, with
# no_new_privs, no capabilities, the uid/gid it was given, an empty root, its
# own network and mount namespaces, no inherited fd it was not given, and
# its memory closed to another process of the same uid. A forbidden syscall
# (socket, io_uring_setup, io_uring_register other than FILES_UPDATE) on
# the main or a volume thread kills the process with SIGSYS. A frontend
# whose guest memory is an unsealed memfd is refused.
. "$(dirname "$0")/lib.sh"
mkkey "$T/key"
truncate -s 16M "$T/c.img"

# 1. Forbidden syscalls (test builds: WARD_BLK_TEST_FORBIDDEN=THREAD[/CALL]):
#    socket(); io_uring_setup(), since io_uring requests would bypass the
#    filter (the rings are all made before lockdown, see ringpool_test.sh);
#    io_uring_register() with any operation but FILES_UPDATE.
for what in main volume main/io_uring_setup volume/io_uring_setup volume/io_uring_register; do
	kind=${what%%/*} call=socket
	[ "$what" = "$kind" ] || call=${what#*/}
	log=$T/forbidden-$kind-$call.log
	set +e
	WARD_BLK_TEST_FORBIDDEN=$what timeout -k 5 20 "$WARD_BLK" --socket "$T/f-$kind-$call.sock" \
		--backing "$T/c.img" --size 16M --key-file "$T/key" >"$log" 2>&1
	rc=$?
	set -e
	if ! grep -q "test hook: $kind thread attempts $call()" "$log"; then
		grep -q 'msg="ward-blk ready"' "$log" &&
			skip "ward-blk was built without test hooks (-Dtest_hooks=false)"
		fail "$kind thread: ward-blk did not get to its $call hook (exit $rc): $(cat "$log")"
	fi
	grep -q "NOT blocked" "$log" && fail "$call() was allowed on the $kind thread"
	[ "$rc" -eq 159 ] || fail "$kind thread, $call(): exit status $rc, want 159 (SIGSYS)"
done

# 1b. Not forbidden: malloc/free churn on 12 volume threads at once. glibc
#     trims a thread's arena lazily (reading /proc/sys/vm/overcommit_memory)
#     and sizes its arena count by asking for the CPU set; a locked-down
#     ward-blk must settle both first (sandbox_filter_load), not die of
#     SIGSYS in the middle of a free().
args=()
for i in $(seq 12); do
	truncate -s 16M "$T/h$i.img"
	args+=(--volume "id=h$i,socket=$T/h$i.sock,backing=$T/h$i.img,size=16M,key-file=$T/key")
done
export WARD_BLK_TEST_FORBIDDEN=volume/heap
start_blk "$T/heap.log" "${args[@]}"
unset WARD_BLK_TEST_FORBIDDEN
for _ in $(seq 100); do [ "$(grep -c 'heap churn survived' "$T/heap.log")" = 12 ] && break; sleep 0.05; done
unset WARD_BLK_TEST_FORBIDDEN
[ "$(grep -c 'heap churn survived' "$T/heap.log")" = 12 ] || fail "not every volume thread survived its heap churn"
kill -0 "$BLK_PID" || fail "ward-blk died after heap churn (SIGSYS from the allocator?)"
"$DRIVER" --socket "$T/h12.sock" write 0 4 2 verify 0 4 2 >/dev/null || fail "I/O after heap churn"

# 2. Unsealed guest memory is refused; the process keeps serving.
start_blk "$T/blk.log" --socket "$T/s" --backing "$T/c.img" --size 16M --key-file "$T/key"
wait_sock "$T/s"
set +e
"$DRIVER" --socket "$T/s" --unsealed write 0 1 1 >"$T/unsealed.out" 2>&1
rc=$?
set -e
[ "$rc" -eq 3 ] || fail "unsealed memfd: driver exit $rc, want 3 (refused): $(cat "$T/unsealed.out")"
grep -q "guest memory must be a memfd sealed against shrinking" "$T/blk.log" || fail "no reason logged for the unsealed memfd"
"$DRIVER" --socket "$T/s" write 0 4 2 verify 0 4 2 >/dev/null || fail "sealed frontend after a refused one"
kill -0 "$BLK_PID" || fail "ward-blk died on an unsealed memfd"
grep -q "^Seccomp:[[:space:]]*2" "/proc/$BLK_PID/status" || fail "standalone ward-blk is not under seccomp"

# 3. The live process (needs root: namespaces and the uid change).
[ "$(id -u)" -eq 0 ] || { echo "PASS (live checks skipped: need root)"; exit 0; }
exec 9>"$T/leaked-fd"
"$DRIVER" --spawn-ctl "$WARD_BLK" --blk-arg --uid --blk-arg 4242 --blk-arg --gid --blk-arg 4243 \
	--backing "$T/c.img" --size $((16<<20)) --key-file "$T/key" write 0 8 5 wait-file "$T/checked" detach >"$T/drv.log" 2>&1 &
PIDS+=($!)
exec 9>&-
for _ in $(seq 600); do grep -q "^write 0 8 5: ok" "$T/drv.log" && break; sleep 0.05; done
pid=$(sed -n 's/^attach: .* pid=\([0-9]*\)$/\1/p' "$T/drv.log")
[ -n "$pid" ] || fail "no ward-blk pid: $(cat "$T/drv.log")"
st=/proc/$pid/status
grep -q "^NoNewPrivs:[[:space:]]*1" "$st" || fail "no_new_privs not set"
grep -q "^CapEff:[[:space:]]*0000000000000000" "$st" || fail "capabilities left: $(grep Cap "$st")"
grep -q "^CapBnd:[[:space:]]*0000000000000000" "$st" || fail "bounding set not empty"
grep -qE "^Uid:[[:space:]]+4242[[:space:]]+4242[[:space:]]+4242[[:space:]]+4242" "$st" || fail "uid not dropped: $(grep Uid "$st")"
grep -qE "^Gid:[[:space:]]+4243[[:space:]]+4243[[:space:]]+4243" "$st" || fail "gid not dropped: $(grep Gid "$st")"
[ -z "$(ls -A "/proc/$pid/root/")" ] || fail "root is not empty: $(ls -A "/proc/$pid/root/")"
[ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] || fail "shares our network namespace"
[ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] || fail "shares our mount namespace"
for fd in /proc/$pid/fd/*; do
	[ "$(readlink "$fd")" != "$T/leaked-fd" ] || fail "inherited fd 9 was not closed"
done
threads=0 vols=0
for t in /proc/$pid/task/*; do
	comm=$(cat "$t/comm")
	case "$comm" in iou-*) continue ;; esac  # io_uring kernel workers
	grep -q "^Seccomp:[[:space:]]*2" "$t/status" || fail "thread $comm is not filtered"
	threads=$((threads + 1))
	case "$comm" in vol:*) vols=$((vols + 1)) ;; esac
done
[ "$vols" -eq 1 ] || fail "expected one volume thread, found $vols of $threads threads"
# Not dumpable: even a process of ward-blk's own uid cannot read its memory.
if setpriv --reuid 4242 --regid 4243 --clear-groups head -c 1 "/proc/$pid/mem" >/dev/null 2>&1; then
	fail "/proc/$pid/mem is readable by uid 4242"
fi
touch "$T/checked"	# the driver detaches only now, however slow the checks were
for _ in $(seq 600); do grep -q "^detach:" "$T/drv.log" && break; sleep 0.1; done
grep -q "detach: detached, key destroyed" "$T/drv.log" || fail "DETACH after the checks: $(cat "$T/drv.log")"
echo PASS
