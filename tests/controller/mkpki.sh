#!/usr/bin/env bash
# mkpki.sh DIR: a throw-away test PKI for ward-controller (openssl CLI).
# DIR/ca.{pem,key}: the CA that issues the server and client certificates;
# server.{pem,key}: TLS server cert for 127.0.0.1 / localhost;
# cp.{pem,key}: client "OU=control-plane"; op.{pem,key}: client "OU=operator";
# norole.{pem,key}: valid client without a role; rogue-ca.pem + rogue.{pem,key}:
# an "operator" client from a CA the controller does not trust.
set -euo pipefail
d=${1:?usage: mkpki.sh DIR}
mkdir -p "$d"
cd "$d"
days=30
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

mkca() { # name subject
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "$2" -days $days -sha256 \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		-out "$1.pem" 2>/dev/null
}

issue() { # name ca subject ext
	key "$1.key"
	openssl req -new -key "$1.key" -subj "$3" -out "$1.csr" 2>/dev/null
	printf '%b\n' "$4" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
		-days $days -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

client_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
mkca ca "/O=ward test/CN=ward test CA"
issue server ca "/O=ward test/CN=127.0.0.1" \
	'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost'
issue cp ca "/O=ward test/OU=control-plane/CN=control-plane-1" "$client_ext"
issue op ca "/O=ward test/OU=operator/CN=operator-alice" "$client_ext"
issue norole ca "/O=ward test/OU=visitor/CN=someone" "$client_ext"
mkca rogue-ca "/O=elsewhere/CN=rogue CA"
issue rogue rogue-ca "/O=ward test/OU=operator/CN=operator-mallory" "$client_ext"
chmod 600 ./*.key
