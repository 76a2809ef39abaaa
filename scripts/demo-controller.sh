#!/usr/bin/env bash
# demo-controller.sh BUILD_DIR: the host API end to end — a test PKI, a
# private swtpm, ward-controller(-dev), a hello VM launched through the mTLS
# API with the `ward` CLI, the instance list, what the operator role may and
# may not do, and the audit log fetched and verified offline. Cleans up.
set -euo pipefail
B=$(cd "${1:?usage: demo-controller.sh BUILD_DIR}" && pwd)
cd "$(dirname "$0")/.."
SRC=$(pwd)
CTL=$B/src/controller/ward-controller-dev
WARD=$B/src/cli/ward
for x in "$CTL" "$WARD" "$B/src/hv/ward-hv" "$B/guest/hello.elf"; do
	[ -e "$x" ] || { echo "demo-controller: $x not built"; exit 1; }
done
command -v swtpm >/dev/null || { echo "demo-controller: swtpm not installed"; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/ward-demo-ctl.XXXXXX")
. "$SRC/scripts/demo-lib.sh"
run() { show "$@"; }

say "a test PKI: CA, server cert for 127.0.0.1, control-plane and operator client certs (OU = role)"
make_pki "$W/pki"
ls "$W/pki" | grep -E '^(ca|server|cp|op)\.pem$' | sed 's/^/  /'

say "a private swtpm (the security chip in this demo)"
start_swtpm
echo "  TCTI $TCTI"

say "ward-controller (development build: verifies nothing, host state unverified-dev)"
"$CTL" --state-dir "$W/state" --tcti "$TCTI" --listen 127.0.0.1:0 --port-file "$W/port" \
	--tls-cert "$W/pki/server.pem" --tls-key "$W/pki/server.key" --client-ca "$W/pki/ca.pem" \
	--dev-images "$B" 2>"$W/ctl.log" &
CTL_PID=$!
DEMO_PIDS+=("$CTL_PID")
for _ in $(seq 200); do [ -s "$W/port" ] && break; sleep 0.05; done
[ -s "$W/port" ] || { cat "$W/ctl.log"; exit 1; }
export WARD_URL=https://127.0.0.1:$(cat "$W/port") WARD_CA=$W/pki/ca.pem
cp=(--cert "$W/pki/cp.pem" --key "$W/pki/cp.key")
op=(--cert "$W/pki/op.pem" --key "$W/pki/op.key")
echo "  listening on $WARD_URL"

say "no client certificate: the TLS handshake fails, nothing reaches the API"
curl -sS --cacert "$W/pki/ca.pem" "$WARD_URL/v1/health" 2>&1 | sed 's/^/  /' || true

say "control plane: host state, then launch the hello guest"
echo "\$ ward host"
"$WARD" "${cp[@]}" host | python3 -c 'import json,sys; d=json.load(sys.stdin); d["audit"]["public_key"]="(PEM, %d bytes)" % len(d["audit"]["public_key"]); print(json.dumps(d, indent=1))'
run "$WARD" "${cp[@]}" instance run --image hello --memory 16
sleep 1
run "$WARD" "${cp[@]}" instance list

say "operator: may list (ids and states only) and read the audit log, may not launch"
run "$WARD" "${op[@]}" instance list
run "$WARD" "${op[@]}" instance run --image hello || echo "  (refused, as it must be)"

say "the audit log: fetch, then verify offline with the TPM key's public half"
run "$WARD" "${op[@]}" audit fetch --out "$W/export"
head -c 400 "$W/export/checkpoint"; echo
run "$WARD" audit verify "$W/export" --pubkey "$W/state/keys/audit-sign.pub.pem"
grep -c '"decision":"deny"' "$W/export/leaves" | sed 's/^/  denied requests recorded: /'

say "a flipped byte in the exported log is caught"
python3 - "$W/export/leaves" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1; open(p, "wb").write(b)
PY
if "$WARD" audit verify "$W/export" --pubkey "$W/state/keys/audit-sign.pub.pem"; then
	echo "tampering NOT detected"; exit 1
fi
echo
echo "controller demo complete"
