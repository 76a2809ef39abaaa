#!/usr/bin/env bash
# ward-api to etcd over TLS with a client certificate (docs/ha.md): etcd
# demands one (--client-cert-auth); ward-api with --etcd-cacert/--etcd-cert/
# --etcd-key stores and serves through it, and without its certificate it
# is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ha_lib.sh"
ha_setup
( cd "$T"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout etcd.key \
	-out etcd.csr -subj /CN=etcd
  printf 'subjectAltName=IP:127.0.0.1\n' > etcd.ext
  openssl x509 -req -in etcd.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out etcd.pem \
	-days 1 -extfile etcd.ext
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cli.key \
	-out cli.csr -subj /CN=ward-api
  printf 'extendedKeyUsage=clientAuth\n' > cli.ext
  openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem \
	-days 1 -extfile cli.ext
) >/dev/null 2>&1 || fail "certificate set-up"
read -r CP PP <<<"$(free_ports 2)"
ETCD_EPS=https://127.0.0.1:$CP
"$ETCD" --name e0 --data-dir "$T/etcd0" --listen-client-urls "$ETCD_EPS" \
	--advertise-client-urls "$ETCD_EPS" --listen-peer-urls "http://127.0.0.1:$PP" \
	--initial-advertise-peer-urls "http://127.0.0.1:$PP" \
	--initial-cluster "e0=http://127.0.0.1:$PP" --cert-file "$T/etcd.pem" \
	--key-file "$T/etcd.key" --client-cert-auth --trusted-ca-file "$T/ca.pem" \
	--logger zap --log-outputs "$T/etcd0.log" >/dev/null 2>&1 &
ETCD_PIDS[0]=$!
ectl() { ETCDCTL_API=3 "$ETCDCTL" --endpoints "$ETCD_EPS" --cacert "$T/ca.pem" \
	--cert "$T/cli.pem" --key "$T/cli.key" --command-timeout 5s "$@"; }
wait_for "etcd over TLS" 'ectl endpoint health >/dev/null 2>&1'

TLS=(--etcd-cacert "$T/ca.pem" --etcd-cert "$T/cli.pem" --etcd-key "$T/cli.key")
if "$API" --etcd "$ETCD_EPS" --etcd-cacert "$T/ca.pem" --master-key-file "$T/master.key" \
	admin bootstrap nobody >/dev/null 2>&1; then
	fail "etcd accepted ward-api without its client certificate"
fi
read -r ak sk < <("$API" --etcd "$ETCD_EPS" "${TLS[@]}" --master-key-file "$T/master.key" \
	admin bootstrap admin) || fail "admin bootstrap over TLS"
set_creds admin "$ak" "$sk"
pass "etcd refuses ward-api without a client certificate, accepts it with one"

replica_start r1 -- "${TLS[@]}"
URL=$URL_r1
wait_for "r1 to lead" '[ "$(api_leader)" = r1 ]'
as admin iam create-user --user-name tls-user >/dev/null || fail "create-user over TLS"
[ -n "$(ectl get --print-value-only ward/data/iam/user/tls-user)" ] || fail "tls-user not in etcd"
pass "a replica elected and serving through etcd over TLS"
