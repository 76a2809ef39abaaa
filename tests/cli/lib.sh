# tests/cli/lib.sh: helpers for the command-line tests (sourced): run a
# command capturing its exit status, stdout and stderr, and check them.
set -uo pipefail

B=${WARD_BUILD_ROOT:?}
SRC=${WARD_SOURCE_ROOT:?}
W=$(mktemp -d "${TMPDIR:-/tmp}/ward-cli-test.XXXXXX")
FAILS=0
trap 'cli_cleanup' EXIT
cli_cleanup() { rm -rf "$W"; }

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

# run CMD...: sets RC, OUT and ERR (also in $W/out, $W/err).
run() {
	"$@" >"$W/out" 2>"$W/err"
	RC=$?
	OUT=$(cat "$W/out")
	ERR=$(cat "$W/err")
}

# expect DESC RC [out~REGEX] [err~REGEX] [out=EMPTY] [err=EMPTY]: checks the last run.
expect() {
	local d=$1 rc=$2 c bad=""
	shift 2
	[ "$RC" = "$rc" ] || bad="exit status $RC, want $rc"
	for c in "$@"; do
		case $c in
		out=EMPTY) [ -z "$OUT" ] || bad="$bad; stdout not empty" ;;
		err=EMPTY) [ -z "$ERR" ] || bad="$bad; stderr not empty" ;;
		out~*) grep -Eq -- "${c#out~}" "$W/out" || bad="$bad; stdout lacks /${c#out~}/" ;;
		err~*) grep -Eq -- "${c#err~}" "$W/err" || bad="$bad; stderr lacks /${c#err~}/" ;;
		esac
	done
	if [ -n "$bad" ]; then
		fail "$d: ${bad#; }"
		echo "  stdout: $(head -c 600 "$W/out")"
		echo "  stderr: $(head -c 600 "$W/err")"
	else
		ok "$d"
	fi
}

# The project version, as meson.build declares it.
project_version() {
	sed -n "s/^ *version: *'\([^']*\)'.*/\1/p" "$SRC/meson.build" | head -1
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
