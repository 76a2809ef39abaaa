#!/usr/bin/env bash
# `make lab`: one host and the control plane on this machine, left running
# for you to drive with the aws CLI: swtpm, SoftHSM2 + ward-kms, the
# measured controller under ward-boot, ward-api on SQLite admitting the host
# by TPM attestation. It runs docs/operations.md's sections 1-7 exactly as
# written (the guide test runs the same blocks), against a `meson install`
# of build/ into $WARD_HOME/root, then prints how to point `aws` at it.
# Needs no /dev/kvm (instances do: run-instances needs a host with KVM).
#   scripts/lab.sh         start (refused while a lab is up)
#   scripts/lab.sh stop    the guide's section 8: stop what the lab started
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
export WARD_HOME=${WARD_HOME:-/var/tmp/ward-lab}
ENVF=$WARD_HOME/lab.env

# The guide's ```sh blocks, FIRST..LAST (1-based), on stdout.
blocks() {
	python3 - "$SRC/docs/operations.md" "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r'^```sh\n(.*?)^```', text, re.S | re.M)
first, last = int(sys.argv[2]), int(sys.argv[3])
for b in blocks[first - 1:last]:
    print(b, end='')
PY
}
# Which block opens section N ("## N."), 1-based.
section_block() {
	python3 - "$SRC/docs/operations.md" "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
head = re.search(r'^## %s\. ' % sys.argv[2], text, re.M)
print(len(re.findall(r'^```sh\n', text[:head.start()], re.M)) + 1)
PY
}

if [ "${1:-}" = stop ]; then
	[ -f "$ENVF" ] || { echo "make lab: no lab in $WARD_HOME"; exit 1; }
	s8=$(section_block 8)
	# shellcheck disable=SC1090
	( . "$ENVF"; blocks "$s8" "$s8" > "$WARD_HOME/stop.sh"; bash "$WARD_HOME/stop.sh" ) || true
	rm -f "$ENVF"
	echo "lab stopped; its state stays in $WARD_HOME (rm -rf it to start afresh)"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "make lab: run as root (the controller starts cards in their own namespaces)"; exit 1; }
if [ -f "$ENVF" ]; then
	echo "make lab: a lab is already up in $WARD_HOME (scripts/lab.sh stop first)"; exit 1
fi
[ ! -e "$WARD_HOME/state" ] || { echo "make lab: $WARD_HOME holds an old lab; remove it first (rm -rf $WARD_HOME)"; exit 1; }

echo "building and installing into $WARD_HOME/root ..."
mkdir -p "$WARD_HOME"
chmod 700 "$WARD_HOME"
if ! { [ -f build/build.ninja ] || meson setup build; } >"$WARD_HOME/build.log" 2>&1 ||
   ! ninja -C build >>"$WARD_HOME/build.log" 2>&1 ||
   ! meson install -C build --destdir "$WARD_HOME/root" --no-rebuild --quiet >>"$WARD_HOME/build.log" 2>&1; then
	tail -30 "$WARD_HOME/build.log"; echo "make lab: the build failed ($WARD_HOME/build.log)"; exit 1
fi
PREFIX=$(meson introspect build --buildoptions |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
cat >"$ENVF" <<EOF
export WARD_HOME=$WARD_HOME WARD_PREFIX=$WARD_HOME/root$PREFIX WARD_SRC=$SRC
export WARD_TPM_PORT=${WARD_TPM_PORT:-2321} WARD_KMS_PORT=${WARD_KMS_PORT:-8444}
export WARD_CTL_PORT=${WARD_CTL_PORT:-8443} WARD_API_PORT=${WARD_API_PORT:-9443}
EOF
s8=$(section_block 8)
blocks 1 $((s8 - 1)) >"$WARD_HOME/lab.sh"
echo "running docs/operations.md sections 1-7 (log: $WARD_HOME/lab.log) ..."
# shellcheck disable=SC1090
if ! ( . "$ENVF"; export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=
       cd "$WARD_HOME" && bash -e -o pipefail "$WARD_HOME/lab.sh" ) >"$WARD_HOME/lab.log" 2>&1; then
	tail -30 "$WARD_HOME/lab.log"
	echo "make lab: a step of the guide failed; stopping what started"
	"$0" stop >/dev/null 2>&1 || true
	exit 1
fi
# shellcheck disable=SC1090
. "$ENVF"
read -r ak _ <"$WARD_HOME/api/admin.credentials"
cat <<EOF

The lab is up: swtpm, ward-kms, the measured controller (host h-host1,
admitted by TPM attestation) and ward-api on SQLite, all on 127.0.0.1.
Point the aws CLI at ward-api (administrator credentials):

  export AWS_CA_BUNDLE=$WARD_HOME/pki/ca.pem AWS_DEFAULT_REGION=us-east-1
  read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY <$WARD_HOME/api/admin.credentials
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY     # administrator $ak
  aws ec2 --endpoint-url https://127.0.0.1:$WARD_API_PORT describe-hosts
  aws ec2 --endpoint-url https://127.0.0.1:$WARD_API_PORT describe-vpcs

The KMS is https://127.0.0.1:$WARD_KMS_PORT (credentials in $WARD_HOME/kms/),
the host API https://127.0.0.1:$WARD_CTL_PORT (the \`ward\` CLI: docs/operations.md §5).
Stop it with: scripts/lab.sh stop
EOF
