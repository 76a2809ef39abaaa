# tests/hv/virtio/lib.sh: what the device-model integration tests share: a
# private temporary directory, the backend (BPID) stopped on exit, and
# skip/die helpers that print their reason and the logs. A test lists the
# build outputs it runs in NEED (paths under the build dir) before sourcing:
# a missing one fails the test (a broken build), checked before KVM is.
B=${WARD_BUILD_ROOT:?}
HV=$B/src/hv/ward-hv
T=$(mktemp -d)
cleanup() {
	[ -n "${BPID:-}" ] && kill "$BPID" 2>/dev/null && wait "$BPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

skip() { echo "SKIP: $*"; exit 77; }
die() { echo "FAIL: $*"; for f in out err backend.log; do [ -f "$T/$f" ] && { echo "--- $f"; tail -40 "$T/$f"; }; done; exit 1; }

for f in src/hv/ward-hv ${NEED[@]+"${NEED[@]}"}; do
	[ -e "$B/$f" ] || die "$B/$f is missing: the build did not produce it"
done
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable here"
