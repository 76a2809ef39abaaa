# bash completion for `ward`, the ward host CLI (docs/cli.md).
# Installed to share/bash-completion/completions/ward; to try it from a
# checkout: source completions/ward.bash
# Completes commands, subcommands and options from the same command set as
# `ward --help`; option values that are files or directories complete as
# paths, fixed choices (--cpu, --hugepages) as their values.

_ward_words() {
	local cmd=${1-} sub=${2-}
	case "$cmd${sub:+ $sub}" in
	"") echo "host health drain instance image volume enclave attestation audit vpc subnet sg eni nacl underlay help" ;;
	vpc|subnet) echo "create list delete" ;;
	sg) echo "create list delete authorize revoke" ;;
	eni) echo "create list delete set-groups" ;;
	nacl) echo "create list delete authorize revoke associate disassociate" ;;
	underlay) echo "list peer peer-remove map unmap" ;;
	"vpc create") echo "--cidr" ;;
	"subnet create") echo "--vpc --cidr" ;;
	"sg create"|"nacl create") echo "--vpc" ;;
	"sg authorize"|"sg revoke") echo "--ingress --egress --proto --port --icmp --cidr --source-group" ;;
	"nacl authorize") echo "--ingress --egress --rule --action --proto --port --icmp --cidr" ;;
	"nacl revoke") echo "--ingress --egress --rule" ;;
	"nacl associate"|"nacl disassociate") echo "--subnet" ;;
	"eni create") echo "--subnet --ip --security-group --mtu --no-source-dest-check" ;;
	"eni set-groups") echo "--security-group" ;;
	instance) echo "run list show stop console" ;;
	"instance run") echo "--image --memory --vcpus --cpu --hugepages --cmdline --eni --subnet --security-group" ;;
	"instance list") echo "--json" ;;
	"instance show") echo "--json" ;;
	"instance console") echo "--follow" ;;
	image) echo "list" ;;
	"image list"|"vpc list"|"subnet list"|"sg list"|"eni list"|"nacl list"|"underlay list") echo "--json" ;;
	volume) echo "create attach detach list --cp-dir --kms-url --kms-ca" ;;
	"volume create") echo "--size --kms-key --id --backing" ;;
	"volume attach") echo "--image --host --fas-seconds --spec-only --memory --vcpus --cpu --hugepages --cmdline" ;;
	"volume list") echo "--json" ;;
	enclave) echo "build describe-eif" ;;
	"enclave build") echo "--kernel --cmdline --ramdisk --signing-certificate --private-key --output-file" ;;
	"enclave describe-eif") echo "--eif-path" ;;
	attestation) echo "verify" ;;
	"attestation verify") echo "--root --at --nonce" ;;
	audit) echo "checkpoint list fetch verify" ;;
	"audit list") echo "--from --to --json" ;;
	"audit fetch") echo "--out" ;;
	"audit verify") echo "--pubkey --origin --min-counter" ;;
	help) echo "host health drain instance image volume enclave attestation audit vpc subnet sg eni nacl underlay" ;;
	esac
}

_ward() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local i w cmd="" sub=""

	COMPREPLY=()
	# The value of an option that takes one.
	case $prev in
	--cert|--key|--ca|--kms-ca|--root|--pubkey|--kernel|--ramdisk|--signing-certificate|\
	--private-key|--output-file|--eif-path|--backing)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0 ;;
	--out|--cp-dir)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return 0 ;;
	--cpu) mapfile -t COMPREPLY < <(compgen -W "fixed burstable" -- "$cur"); return 0 ;;
	--hugepages) mapfile -t COMPREPLY < <(compgen -W "2M 1G" -- "$cur"); return 0 ;;
	--memory) mapfile -t COMPREPLY < <(compgen -W "64M 128M 256M 512M 1G 2G" -- "$cur"); return 0 ;;
	--url|--image|--vcpus|--cmdline|--size|--kms-key|--id|--host|--fas-seconds|--kms-url|\
	--at|--nonce|--origin|--min-counter|--from|--to)
		return 0 ;;	# free text: nothing to offer
	esac
	# Find the command and subcommand typed so far, skipping options and
	# their values.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--url|--cert|--key|--ca|--cp-dir|--kms-url|--kms-ca) ((i++)); continue ;;
		-*) continue ;;
		esac
		if [ -z "$cmd" ]; then
			cmd=$w
		elif [ -z "$sub" ] && [[ " $(_ward_words "$cmd") " == *" $w "* ]]; then
			sub=$w
		fi
	done
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--url --cert --key --ca --help --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_ward_words "" "")" -- "$cur")
		fi
		return 0
	fi
	# `ward help COMMAND`: nothing after the command, no --help.
	if [ "$cmd" = help ]; then
		[ -n "$sub" ] || mapfile -t COMPREPLY < <(compgen -W "$(_ward_words help)" -- "$cur")
		return 0
	fi
	mapfile -t COMPREPLY < <(compgen -W "$(_ward_words "$cmd" "$sub") --help" -- "$cur")
	return 0
}
complete -F _ward ward
