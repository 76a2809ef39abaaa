#!/usr/bin/env bash
# swtpm-env.sh CMD ARGS...: run one test command against a private swtpm.
# Starts swtpm on free loopback ports in a fresh temp dir, exports
# WARD_TPM_TCTI / TPM2TOOLS_TCTI / WARD_SWTPM_DIR, runs CMD, then always
# kills that swtpm and removes the dir. Exits 77 (skip) if swtpm is missing.
set -uo pipefail

if ! command -v swtpm >/dev/null 2>&1; then
	echo "swtpm-env: swtpm not installed (apt-get install swtpm), skipping"
	exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/ward-swtpm.XXXXXX") || exit 1
pid=""
watchdog=""

cleanup() {
	[ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Bind failures (port taken, by anything or a parallel test) just mean
# another try with other ports.
port=""
for _ in $(seq 30); do
	p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
	rm -f "$dir/pid"
	if swtpm socket --tpm2 --tpmstate dir="$dir" \
		--server type=tcp,port=$p,bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((p + 1)),bindaddr=127.0.0.1 \
		--flags not-need-init,startup-clear \
		--pid file="$dir/pid" --log file="$dir/swtpm.log" \
		--daemon 2>>"$dir/start.err"; then
		for _ in $(seq 100); do
			[ -s "$dir/pid" ] && break
			sleep 0.02
		done
		pid=$(cat "$dir/pid" 2>/dev/null)
		if [ -n "$pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			port=$p
			break
		fi
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
		pid=""
	fi
done
if [ -z "$port" ]; then
	echo "swtpm-env: could not start swtpm" >&2
	cat "$dir/start.err" "$dir/swtpm.log" >&2 2>/dev/null
	exit 1
fi

# If this script is SIGKILLed (a test timeout), the daemonised swtpm would
# outlive it: a detached watchdog removes it once this shell is gone.
setsid bash -c 'tail --pid="$0" -f /dev/null; kill "$1"; rm -rf "$2"' \
	$$ "$pid" "$dir" </dev/null >/dev/null 2>&1 &
watchdog=$!

export WARD_TPM_TCTI="swtpm:host=127.0.0.1,port=$port"
export TPM2TOOLS_TCTI="$WARD_TPM_TCTI"
export WARD_SWTPM_DIR="$dir"
mkdir -p "$dir/work"
"$@"
rc=$?
exit $rc
