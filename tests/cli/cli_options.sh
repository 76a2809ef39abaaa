#!/bin/bash
# tests/cli/cli_options.sh: every ward binary answers --version and --help
# alike (stdout, exit 0), names a bad or incomplete option on stderr with
# the documented exit status (docs/cli.md), takes the one size syntax, and
# says the --vcpus range it enforces. No daemon, TPM or KVM needed.
. "$(dirname "$0")/lib.sh"

VER=$(project_version)
[ -n "$VER" ] || { echo "FAIL: no version in meson.build"; exit 1; }

# name path usage-exit option-that-takes-a-value
BINS=(
	"ward src/cli/ward 2 --url"
	"ward-hv src/hv/ward-hv 125 --memory"
	"ward-blk src/blk/ward-blk 2 --size"
	"ward-net src/net/ward-net 2 --config"
	"ward-controller src/controller/ward-controller 2 --state-dir"
	"ward-controller src/controller/ward-controller-dev 2 --state-dir"
	"ward-kms src/kms/ward-kms 2 --db"
	"ward-api src/api/ward-api 2 --db"
	"ward-boot src/boot/ward-boot 2 --event-log"
)
for line in "${BINS[@]}"; do
	read -r name path urc vopt <<<"$line"
	bin=$B/$path
	[ -x "$bin" ] || { fail "$bin is missing: the build did not produce it"; continue; }
	run "$bin" --version
	expect "$path --version" 0 "out~^$name $VER\$" err=EMPTY
	run "$bin" --help
	expect "$path --help" 0 "out~^usage: " "out~exit status" err=EMPTY
	run "$bin" --no-such-option
	expect "$path: a bad option is named on stderr" "$urc" "err~'--no-such-option'" out=EMPTY
	run "$bin" "$vopt"
	expect "$path $vopt without a value names it" "$urc" "err~option $vopt needs a value" out=EMPTY
done

# ---- the two tools: ward-fwtool (options follow its command), ward-pki ----
FT=$B/src/controller/fw/ward-fwtool
run "$FT" --version
expect "ward-fwtool --version" 0 "out~^ward-fwtool $VER\$" err=EMPTY
run "$FT" --help
expect "ward-fwtool --help" 0 "out~^usage: ward-fwtool" "out~exit status" err=EMPTY
run "$FT" --no-such-option
expect "ward-fwtool: a bad option is named on stderr" 2 "err~unknown option '--no-such-option'" out=EMPTY
run "$FT" info --no-such-option
expect "ward-fwtool info: a bad option after the command too" 2 "err~unknown option '--no-such-option'" out=EMPTY
run "$FT" build-store --key
expect "ward-fwtool build-store --key without a value names it" 2 "err~option --key needs a value" out=EMPTY
for v in 0x10 4x -1; do
	run "$FT" build-store --images "$W" --key k --version "$v" --counter 1 -o "$W/p"
	expect "ward-fwtool --version $v: refused with its range" 2 "err~--version must be a number from 1 to" out=EMPTY
done
run "$FT" build-store --images "$W" --key k --version 1 --counter 1x -o "$W/p"
expect "ward-fwtool --counter 1x: refused" 2 "err~--counter must be a number from 0 to" out=EMPTY
run "$FT" golden-set --release 'rel/1' --controller "$FT" --package "$W/p"
expect "ward-fwtool golden-set: a release name outside the golden-set alphabet is refused" 2 \
	"err~--release must be 1-64 of" out=EMPTY
run "$FT" golden-set --release rel-1 --controller "$FT"
expect "ward-fwtool golden-set without --package: usage error" 2 "err~needs --release, --controller and --package" out=EMPTY
PKI=$B/src/cli/ward-pki
run "$PKI" --version
expect "ward-pki --version (the built copy)" 0 "out~^ward-pki $VER\$" err=EMPTY
run "$PKI" --help
expect "ward-pki --help" 0 "out~^usage: ward-pki" "out~Exit status" err=EMPTY
run "$PKI" init "$W/pki" --ip
expect "ward-pki init --ip without a value names it" 2 "err~--ip needs a value" out=EMPTY

# ---- ward-hv: sizes and ranges ------------------------------------------
HV=$B/src/hv/ward-hv
# The hugepage check prints the parsed size in MiB, before any file is read.
for m in 1536M 1536 1572864K 1536MiB; do
	run "$HV" --kernel /nonexistent --hugepages 1G --memory "$m"
	expect "ward-hv --memory $m is 1536 MiB" 125 "err~--memory 1536 MiB is not a multiple"
done
run "$HV" --kernel /nonexistent --memory 64M
expect "ward-hv --memory 64M gets past the options" 125 "err~cannot open kernel"
for m in 1X 64.5M 1025K -1 0x40; do
	run "$HV" --kernel /nonexistent --memory "$m"
	expect "ward-hv --memory $m refused, naming the option" 125 "err~--memory must be a size"
done
run "$HV" --kernel /nonexistent --vcpus 0
expect "ward-hv --vcpus 0: the range says 1 to 64" 125 "err~--vcpus must be a number from 1 to 64, got '0'"
run "$HV" --kernel /nonexistent --vcpus 65
expect "ward-hv --vcpus 65: the same range" 125 "err~--vcpus must be a number from 1 to 64, got '65'"
run "$HV" --kernel /nonexistent --vcpus 64 --memory 64M
expect "ward-hv --vcpus 64 is accepted" 125 "err~cannot open kernel"

# ---- ward-blk: the same size syntax (a bare number is bytes) -------------
BLK=$B/src/blk/ward-blk
: >"$W/backing"
# 1025K is not whole 4 KiB blocks: the card says so with the bytes it parsed.
run "$BLK" --socket "$W/s" --backing "$W/backing" --size 1025K --no-encryption --no-sandbox
expect "ward-blk --size 1025K is 1049600 bytes" 1 "err~[^0-9]1049600([^0-9]|$)"
run "$BLK" --socket "$W/s" --backing "$W/backing" --size 1049600 --no-encryption --no-sandbox
expect "ward-blk --size 1049600 (bytes) is the same" 1 "err~[^0-9]1049600([^0-9]|$)"
run "$BLK" --socket "$W/s" --backing "$W/backing" --size 1X --no-encryption --no-sandbox
expect "ward-blk --size 1X refused, naming the option" 2 "err~--size must be a size"
run "$BLK" --volume "id=v,socket=$W/s,backing=$W/backing,size=1025K,no-encryption" --no-sandbox
expect "ward-blk --volume size=1025K: the same syntax in a spec" 1 "err~[^0-9]1049600([^0-9]|$)"

# Numbers are parsed strictly (no atoi): trailing text and overflow are
# refused with the range, not read as 4 or wrapped.
for q in 4x 99999999999 0 9; do
	run "$BLK" --socket "$W/s" --backing "$W/backing" --size 64K --no-encryption --queues "$q"
	expect "ward-blk --queues $q: refused with its range" 2 "err~--queues must be a number from 1 to 8, got '$q'"
done
run "$BLK" --volume "id=v,socket=$W/s,backing=$W/backing,size=64K,no-encryption,queues=4x"
expect "ward-blk --volume queues=4x: the same" 2 "err~queues= must be a number from 1 to 8, got '4x'"
for f in 2 3x 99999999999; do
	run "$BLK" --control-fd "$f"
	expect "ward-blk --control-fd $f: refused with its range" 2 "err~--control-fd must be an inherited fd number from 3 to 2147483647, got '$f'"
	run "$BLK" --control-fd 3 --keep-fd "$f"
	expect "ward-blk --keep-fd $f: the same" 2 "err~--keep-fd must be an inherited fd number from 3 to 2147483647, got '$f'"
done

# ---- ward-controller: numbers strictly, the port file's directory -----------
CTLB=$B/src/controller/ward-controller
CTLREQ=(--state-dir "$W/st" --listen 127.0.0.1:0 --tls-cert x --tls-key x --client-ca x)
for a in "--card-cores 4x 1 4096" "--card-cores 99999999999 1 4096" "--burst-cores -1 0 4096" \
	 "--request-timeout 0 1 300" "--checkpoint-interval 10s 1 86400" "--uid-base 999 1000 4294963200"; do
	read -r opt val lo hi <<<"$a"
	run "$CTLB" "${CTLREQ[@]}" "$opt" "$val"
	expect "ward-controller $opt $val: refused with its range" 2 "err~$opt must be a number from $lo to $hi, got '$val'"
done
# The port file's directory becomes writable under Landlock: never a
# system directory, never one anyone may write without the sticky bit.
mkdir -p "$W/open"; chmod 0777 "$W/open"
for pf in /port /etc/ward.port /usr/lib/ward.port /run/ward.port /var/ward.port /dev/shm/ward.port; do
	run "$CTLB" "${CTLREQ[@]}" --port-file "$pf"
	expect "ward-controller --port-file $pf: refused (system directory)" 2 "err~--port-file $pf: its directory .* is a system directory"
done
run "$CTLB" "${CTLREQ[@]}" --port-file "$W/open/port"
expect "ward-controller --port-file in a world-writable directory: refused" 2 "err~--port-file $W/open/port: its directory .* is world-writable without the sticky bit"

# ---- ward: the same syntax in instance run, checked before the host is asked
WARD=$B/src/cli/ward
run "$WARD" --url https://127.0.0.1:1 instance run --image hello --memory 64X
expect "ward instance run --memory 64X is a usage error" 2 "err~--memory must be a size" out=EMPTY
run "$WARD" --url https://127.0.0.1:1 --ca /dev/null instance run --image hello --memory 64M
expect "ward instance run --memory 64M gets to the network" 1
run "$WARD" instance run --image
expect "ward instance run --image without a value names it" 2 "err~option --image needs a value"
run "$WARD" instance run --image hello --memory
expect "ward instance run --memory without a value names it" 2 "err~--memory needs a value"

# ---- ward volume: the same size syntax, usage errors named (no KMS needed)
mkdir -p "$W/cp"
run "$WARD" volume --cp-dir "$W/cp" create --size 5000 --kms-key k
expect "ward volume create --size 5000: whole 4 KiB blocks, usage error" 2 \
	"err~--size must be a size in whole 4096-byte blocks.*got '5000'" out=EMPTY
run "$WARD" volume --cp-dir "$W/cp" create --size 1X --kms-key k
expect "ward volume create --size 1X: usage error" 2 "err~--size must be a size" out=EMPTY
run "$WARD" volume --cp-dir "$W/cp" create --size 64M --kms-key
expect "ward volume create --kms-key without a value names it" 2 "err~option --kms-key needs a value"
run "$WARD" volume --cp-dir "$W/cp" attach vol-1 --image
expect "ward volume attach --image without a value names it" 2 "err~option --image needs a value"
run "$WARD" volume --cp-dir "$W/cp" attach vol-1 --image hello --host h --memory 1Q
expect "ward volume attach --memory 1Q: the size syntax" 2 "err~--memory must be a size"
run "$WARD" volume --cp-dir "$W/cp" attach vol-1 --image hello --host h --fas-seconds 0
expect "ward volume attach --fas-seconds 0: the range" 2 "err~--fas-seconds must be a number from 1 to 300"

# ---- ward: every command and subcommand has its own help ------------------
for c in "host" "health" "drain" "instance" "instance run" "instance list" "instance show" \
	 "instance stop" "instance console" "volume" "volume create" "volume attach" "volume detach" "volume list" \
	 "enclave" "enclave build" "enclave describe-eif" "attestation" "attestation verify" \
	 "audit" "audit checkpoint" "audit list" "audit fetch" "audit verify" "image" "image list" \
	 "vpc" "subnet" "sg" "eni" "nacl"; do
	first=${c%% *}
	# shellcheck disable=SC2086
	run "$WARD" $c --help
	expect "ward $c --help" 0 "out~^usage: ward $first" "out~exit status" err=EMPTY
done
for c in "instance run" "volume" "audit verify"; do
	# shellcheck disable=SC2086
	run "$WARD" help $c
	expect "ward help $c" 0 "out~^usage: ward ${c%% *}" err=EMPTY
done
run "$WARD" volume --cp-dir "$W" attach --help
expect "ward volume --cp-dir D attach --help finds attach" 0 "out~^usage: ward volume attach"
run "$WARD" instance show --help
expect "ward instance show --help is instance show's" 0 "out~^usage: ward instance show ID"
run "$WARD" frobnicate --help
expect "ward frobnicate --help: unknown command" 2 "err~unknown command 'frobnicate'" out=EMPTY
run "$WARD"
expect "ward without a command: usage on stderr" 2 "err~^usage: ward" out=EMPTY
run "$WARD" instance frob
expect "ward instance frob: usage error" 2 "err~unknown instance subcommand" out=EMPTY
run "$WARD" volume --cp-dir "$W" frob
expect "ward volume frob: usage error" 2 "err~unknown volume subcommand" out=EMPTY
run "$WARD" audit verify "$W" --pubkey
expect "ward audit verify --pubkey without a value names it" 2 "err~option --pubkey needs a value"

# ---- ward-kms admin: options in the admin part are checked too -----------
run "$B/src/kms/ward-kms" --db "$W/k.db" admin sweep --now
expect "ward-kms admin sweep --now without a value names it" 2 "err~option --now needs a value"

# ---- ports: the enforced range in the message ----------------------------
run "$B/src/kms/ward-kms" --port 70000 serve
expect "ward-kms --port 70000 says 0 to 65535" 2 "err~--port must be a number from 0 to 65535"
run "$B/src/api/ward-api" --port http serve
expect "ward-api --port http says 0 to 65535" 2 "err~--port must be a number from 0 to 65535"
finish
