#!/bin/bash
# tests/cli/completion.sh: completions/ward.bash, sourced into bash as
# bash-completion would, completes commands, subcommands, options and
# option values (the _ward function with COMP_WORDS / COMP_CWORD).
. "$(dirname "$0")/lib.sh"
# shellcheck source=/dev/null
. "$SRC/completions/ward.bash"

# comp WORDS...: complete the last word (may be ""); sets GOT (sorted, one line).
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMPREPLY=()
	_ward
	GOT=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	GOT=${GOT% }
}
want() { # description, expected (sorted, space separated)
	if [ "$GOT" = "$2" ]; then ok "$1"; else fail "$1: got '$GOT', want '$2'"; fi
}

check_registered=$(complete -p ward 2>/dev/null)
[[ $check_registered == *"-F _ward"* ]] && ok "complete -F _ward ward is registered" ||
	fail "ward has no completion registered: $check_registered"
comp ward ""
want "commands" "attestation audit drain enclave eni health help host image instance nacl sg subnet underlay volume vpc"
comp ward in
want "a command's prefix" "instance"
comp ward --
want "global options" "--ca --cert --help --key --url --version"
comp ward --url https://h:1 --ca ca.pem ""
want "commands after the global options and their values" \
	"attestation audit drain enclave eni health help host image instance nacl sg subnet underlay volume vpc"
comp ward instance ""
want "instance subcommands" "--help console list run show stop"
comp ward instance run --
want "instance run options" "--cmdline --cpu --eni --help --hugepages --image --memory --security-group --subnet --vcpus"
comp ward instance run --image hello --cpu ""
want "--cpu values" "burstable fixed"
comp ward instance run --hugepages ""
want "--hugepages values" "1G 2M"
comp ward instance run --memory 1
want "--memory offers sizes in the size syntax" "128M 1G"
comp ward volume --cp-dir /tmp at
want "volume subcommand after --cp-dir DIR" "attach"
comp ward volume attach vol-1 --s
want "volume attach options" "--spec-only"
comp ward audit list --
want "audit list options" "--from --help --json --to"
comp ward image list --
want "image list options" "--help --json"
comp ward vpc list --
want "vpc list options" "--help --json"
comp ward sg ""
want "sg subcommands" "--help authorize create delete list revoke"
comp ward sg authorize sg-1 --s
want "sg authorize options" "--source-group"
comp ward help ""
want "help takes a command" "attestation audit drain enclave eni health host image instance nacl sg subnet underlay volume vpc"
mkdir -p "$W/dir/sub" && : >"$W/dir/file.pem"
comp ward --cert "$W/dir/fi"
want "--cert completes a file" "$W/dir/file.pem"
comp ward audit fetch --out "$W/dir/s"
want "--out completes a directory" "$W/dir/sub"
finish
