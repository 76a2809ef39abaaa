# demo-lib.sh: shared pieces of the demo scripts (sourced, not run):
# output helpers, a private swtpm with power cycles, the test PKI, and
# cleanup of everything started. Set W (work dir) before sourcing.
: "${W:?demo-lib.sh needs W}"
DEMO_PIDS=()
demo_cleanup() {
	local p
	set +e   # already-dead processes are fine; never fail the demo here
	for p in "${DEMO_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${DEMO_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -s "$W/tpm/pid" ] && kill "$(cat "$W/tpm/pid")" 2>/dev/null
	rm -rf "$W"
}
trap demo_cleanup EXIT
# Colour only on a terminal (and never with NO_COLOR set).
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD="" PLAIN=""; fi
say() { printf '\n%s-- %s%s\n' "$BOLD" "$*" "$PLAIN"; }
# A command as it can be pasted: $W and $B for the demo's directories
# (show_env prints their values once).
cmdline() { echo "\$ $*" | sed "s|$W|\$W|g; s|${B:-/nonexistent}|\$B|g"; }
show() { cmdline "$@"; "$@"; }
# show_env NAME...: the environment the printed commands rely on, once.
show_env() {
	local n
	echo "  environment of the commands below:"
	for n in "$@"; do
		printf '    export %s=%s\n' "$n" "${!n}" | sed "s|=$W/|=\$W/|; s|=$B/|=\$B/|"
	done
}
# refused WHY CMD...: a command the demo expects to be refused. It is shown,
# its answer (stdout and stderr) printed on stdout, and WHY said; the demo
# stops if it was not refused.
refused() {
	local why=$1
	shift
	cmdline "$@"
	if "$@" >"$W/refused.out" 2>&1; then
		sed 's/^/  /' "$W/refused.out"
		echo "  NOT refused, but it should have been: $why"
		return 1
	fi
	sed 's/^/  /' "$W/refused.out"
	echo "  (refused, as expected: $why)"
}

# start_swtpm: a TPM of our own on free loopback ports; sets TCTI, TPM_PORT.
start_swtpm() {
	mkdir -p "$W/tpm"
	for _ in $(seq 20); do
		TPM_PORT=$((20000 + RANDOM % 40000))
		if swtpm socket --tpm2 --tpmstate dir="$W/tpm" \
			--server type=tcp,port=$TPM_PORT,bindaddr=127.0.0.1 \
			--ctrl type=tcp,port=$((TPM_PORT + 1)),bindaddr=127.0.0.1 \
			--flags not-need-init,startup-clear --pid file="$W/tpm/pid" --daemon 2>/dev/null; then
			for _ in $(seq 100); do [ -s "$W/tpm/pid" ] && break; sleep 0.02; done
			TCTI="swtpm:host=127.0.0.1,port=$TPM_PORT"
			export WARD_TPM_TCTI=$TCTI  # ward-boot and the TPM library read it
			return 0
		fi
	done
	echo "cannot start swtpm"; return 1
}

# tpm_power_cycle: what a host reboot does to the TPM — PCRs back to zero.
tpm_power_cycle() {
	swtpm_ioctl --tcp "127.0.0.1:$((TPM_PORT + 1))" -i >/dev/null
	TPM2TOOLS_TCTI=$TCTI tpm2_startup -c >/dev/null 2>&1
}

# make_pki DIR: CA, server cert for 127.0.0.1, control-plane and operator
# client certificates (the role is the certificate's OU).
make_pki() { bash "$SRC/tests/controller/mkpki.sh" "$1" >/dev/null; }
