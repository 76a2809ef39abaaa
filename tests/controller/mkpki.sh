#!/usr/bin/env bash
# mkpki.sh DIR: a throw-away test PKI for ward-controller, made by the
# documented tool src/cli/ward-pki (docs/operations.md) plus what only tests need.
# DIR/ca.{pem,key}: the CA that issues the server and client certificates;
# server.{pem,key}: TLS server cert for 127.0.0.1 / localhost;
# cp.{pem,key}: client "OU=control-plane"; op.{pem,key}: client "OU=operator";
# norole.{pem,key}: valid client without a role; rogue-ca.pem + rogue.{pem,key}:
# an "operator" client from a CA the controller does not trust.
set -euo pipefail
d=${1:?usage: mkpki.sh DIR}
pki=$(cd "$(dirname "$0")/../../src/cli" && pwd)/ward-pki
"$pki" init "$d" --org "ward test" --days 30 --ip 127.0.0.1 --dns localhost \
	--operator operator-alice --control-plane control-plane-1 2>/dev/null
"$pki" client "$d" norole --org "ward test" --ou visitor --cn someone --days 30 2>/dev/null
"$pki" init "$d/rogue.d" --org elsewhere --days 30 --ca-only 2>/dev/null
"$pki" client "$d/rogue.d" rogue --org "ward test" --ou operator --cn operator-mallory \
	--days 30 2>/dev/null
mv "$d/rogue.d/ca.pem" "$d/rogue-ca.pem"
mv "$d/rogue.d/ca.key" "$d/rogue-ca.key"
mv "$d/rogue.d/rogue.pem" "$d/rogue.d/rogue.key" "$d/"
rm -rf "$d/rogue.d"
