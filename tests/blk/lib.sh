# tests/blk/lib.sh: helpers shared by the ward-blk integration tests.
# Each test gets its own temporary directory and kills what it started.
set -euo pipefail
B=${WARD_BUILD_ROOT:?run through meson test}
S=${WARD_SOURCE_ROOT:?}
WARD_BLK=$B/src/blk/ward-blk
DRIVER=$B/tests/blk/vu_driver
T=$(mktemp -d /tmp/ward-blk-test.XXXXXX)
# tmpfs for stores that should take the page-cache (non-O_DIRECT) path
if [ -d /dev/shm ] && [ -w /dev/shm ]; then SHM=$(mktemp -d /dev/shm/ward-blk-test.XXXXXX); else SHM=$T; fi
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T" "$SHM"
}
trap cleanup EXIT
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; for f in "$T"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done; exit 1; }
# A 64-byte XTS key whose halves differ.
mkkey() { head -c 64 /dev/urandom > "$1"; }
# start_blk LOG ARGS...: start ward-blk in the background, PID in $BLK_PID
start_blk() {
	local log=$1; shift
	"$WARD_BLK" "$@" >"$log" 2>&1 &
	BLK_PID=$!
	PIDS+=("$BLK_PID")
}
wait_sock() {
	for _ in $(seq 200); do [ -S "$1" ] && return 0; sleep 0.05; done
	fail "socket $1 did not appear"
}
