#!/usr/bin/env bash
# tunnel_pki.sh DIR: throw-away host certificates for the underlay tests.
# A host certificate: one OU=host, CN = host id, EKU serverAuth+clientAuth
# (a card is the TLS client toward some peers and the server toward others).
# DIR/ca.pem; hostA, hostB, hostC.{pem,key}; rogueA, rogueB (CN=hostA/B
# from another CA); bundle.pem (both CAs); opB (OU=operator, CN=hostB: not
# a host certificate).
set -euo pipefail
d=${1:?usage: tunnel_pki.sh DIR}
mkdir -p "$d"
cd "$d"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
mkca() { # name subject
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "$2" -days 2 -sha256 \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		-out "$1.pem" 2>/dev/null
}
issue() { # name ca subject
	key "$1.key"
	openssl req -new -key "$1.key" -subj "$3" -out "$1.csr" 2>/dev/null
	printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
		-days 2 -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
mkca ca "/O=ward test/CN=ward test host CA"
for h in hostA hostB hostC; do issue "$h" ca "/O=ward test/OU=host/CN=$h"; done
issue opB ca "/O=ward test/OU=operator/CN=hostB"
issue badcn ca "/O=ward test/OU=host/CN=host\" level=error x=\"y"
mkca rogue-ca "/O=elsewhere/CN=rogue CA"
issue rogueA rogue-ca "/O=ward test/OU=host/CN=hostA"
issue rogueB rogue-ca "/O=ward test/OU=host/CN=hostB"
# a CA file that trusts both CAs: still only same-CA peers get keys
cat ca.pem rogue-ca.pem >bundle.pem
chmod 600 ./*.key
