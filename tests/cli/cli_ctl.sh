#!/bin/bash
# tests/cli/cli_ctl.sh: `ward` against a running controller (swtpm, test
# PKI, no guest): every listing command prints a table, and with --json
# output that parses with the documented keys (docs/cli.md); instance show
# of an unknown id fails with the host's answer; the controller names
# EADDRINUSE when its port is taken. Run under tests/tpm/swtpm-env.sh.
. "$WARD_SOURCE_ROOT/tests/controller/lib.sh"
need
mkpki
start_ctl

# jcheck FILE PYTHON-EXPR: the file is JSON and the expression on d holds.
jcheck() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert eval(sys.argv[2]), d' "$1" "$2"
}

# ---- instances ----------------------------------------------------------
ward_cli cp instance list --json >"$W/il.json"
check "instance list --json parses, key instances" jcheck "$W/il.json" 'isinstance(d["instances"], list)'
ward_cli op instance list --json >"$W/il-op.json"
check "instance list --json as operator parses" jcheck "$W/il-op.json" '"instances" in d'
ward_cli cp instance list >"$W/il.txt"
check "instance list: a table with a header" grep -Eq '^ID +STATE +IMAGE +VCPUS +MEMORY$' "$W/il.txt"
ward_cli cp instance show i-0123456789abcdef >"$W/show.out" 2>"$W/show.err"
rc=$?
check "instance show of an unknown id: exit 1, the host's 404 on stderr" \
	bash -c "[ $rc = 1 ] && grep -q 'HTTP 404' '$W/show.err' && [ ! -s '$W/show.out' ]"
ward_cli cp instance show 'bad/id' >"$W/show.out" 2>"$W/show.err"
rc=$?
check "instance show of a malformed id: a usage error, nothing sent" \
	bash -c "[ $rc = 2 ] && grep -q 'instance ID is letters' '$W/show.err'"

# ---- images: what a launch may name (GET /v1/images, control plane only) --
ward_cli cp image list --json >"$W/img.json"
want=$(cd "$B/guest" && ls -1 -- *.elf | sed -n 's/^\([a-z0-9-]\{1,32\}\)\.elf$/\1/p' | LC_ALL=C sort | paste -sd,)
check "image list --json: the dev image directory's guests, sorted, source directory" \
	jcheck "$W/img.json" "','.join(i['name'] for i in d['images']) == '$want' and 'hello' in '$want'.split(',') and all(i['source'] == 'directory' for i in d['images'])"
ward_cli cp image list >"$W/img.txt"
check "image list: a table NAME SOURCE with hello" \
	bash -c "grep -Eq '^NAME +SOURCE\$' '$W/img.txt' && grep -Eq '^hello +directory\$' '$W/img.txt'"
ward_cli op image list --json >"$W/img-op.json" 2>"$W/img-op.err"
check "image list as operator: refused (HTTP 403), nothing on stdout" \
	bash -c "[ $? = 1 ] && grep -q 'HTTP 403' '$W/img-op.err' && [ ! -s '$W/img-op.json' ]"
ward_cli cp image list --yaml >/dev/null 2>"$W/img.err"
check "image list --yaml: a usage error" bash -c "[ $? = 2 ] && grep -q '^usage: ward image list' '$W/img.err'"

# ---- the audit log --------------------------------------------------------
ward_cli cp audit list --json >"$W/al.json"
check "audit list --json: an array of records with time and type" \
	jcheck "$W/al.json" 'len(d) >= 3 and all("time" in r and "type" in r for r in d)'
check "audit list --json shows the instance list requests" \
	jcheck "$W/al.json" 'any(r.get("path") == "/v1/instances" for r in d)'
check "audit list --json: both image listings, the operator's denied" \
	jcheck "$W/al.json" "any(r.get('path') == '/v1/images' and r.get('decision') == 'allow' for r in d) and any(r.get('path') == '/v1/images' and r.get('role') == 'operator' and r.get('decision') == 'deny' for r in d)"
ward_cli cp audit list --from 1 --to 3 --json >"$W/al2.json"
check "audit list --from 1 --to 3: two records" jcheck "$W/al2.json" 'len(d) == 2'
ward_cli cp audit list >"$W/al.txt"
check "audit list: a table with a header" grep -Eq '^INDEX +TIME +TYPE +ROLE' "$W/al.txt"
check "audit list: one row per record" \
	bash -c "[ \$(( \$(wc -l <'$W/al.txt') - 1 )) -ge \$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' '$W/al.json') ]"
ward_cli cp audit list --from x >/dev/null 2>"$W/al.err"
check "audit list --from x: usage error" bash -c "[ $? = 2 ] || grep -q 'record numbers' '$W/al.err'"

# ---- the VPC model: its listings take --json too (they print the host's JSON)
for k in "vpc vpcs" "subnet subnets" "sg security_groups" "eni enis" "nacl nacls"; do
	read -r cmd key <<<"$k"
	ward_cli cp "$cmd" list --json >"$W/net-$cmd.json" 2>"$W/net-$cmd.err"
	check "$cmd list --json parses, key $key" jcheck "$W/net-$cmd.json" "isinstance(d['$key'], list)"
done
ward_cli cp vpc list --yaml >/dev/null 2>"$W/net.err"
check "vpc list --yaml: a usage error" bash -c "[ $? = 2 ] && grep -q '^usage: ward vpc' '$W/net.err'"

# ---- volumes (the control plane's records, no host needed) ----------------
mkdir -p "$W/cp"
cat >"$W/cp/volumes.json" <<'JSON'
{"volumes": {"vol-1": {"id": "vol-1", "size": 1048576, "backing": "/dev/null",
 "key_id": "arn:aws:kms:us-east-1:111122223333:key/k1", "encryption_context": {"v": "vol-1"},
 "attachment": {"instance": "i-1", "grant_id": "g1"}}}}
JSON
"$WARD" volume --cp-dir "$W/cp" list --json >"$W/vl.json"
check "volume list --json: the records keyed by id" \
	jcheck "$W/vl.json" 'd["vol-1"]["size"] == 1048576 and d["vol-1"]["attachment"]["instance"] == "i-1"'
"$WARD" volume --cp-dir "$W/cp" list >"$W/vl.txt"
check "volume list: a table row per volume" \
	bash -c "grep -Eq '^ID +SIZE +INSTANCE +KEY\$' '$W/vl.txt' && grep -Eq '^vol-1 +1048576 +i-1 +arn:aws:kms:' '$W/vl.txt'"

# ---- a port in use ------------------------------------------------------------
# The same controller again (its TPM counter and log agree), on a port a
# listener of this test holds.
stop_ctl
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(300)' >"$W/busy" &
busy=$!
for _ in $(seq 200); do [ -s "$W/busy" ] && break; sleep 0.05; done
"$CTL" --state-dir "$S" --tcti "$WARD_TPM_TCTI" --listen "127.0.0.1:$(cat "$W/busy")" \
	--tls-cert "$P/server.pem" --tls-key "$P/server.key" --client-ca "$P/ca.pem" \
	--dev-images "$B" >"$W/ctl2.log" 2>&1
rc=$?
kill "$busy"
check "the controller on a port in use says EADDRINUSE" \
	bash -c "[ $rc != 0 ] && grep -q 'cannot listen on 127.0.0.1:[0-9]*: EADDRINUSE' $W/ctl2.log"
grep -q EADDRINUSE "$W/ctl2.log" || { echo "exit $rc"; tail -5 "$W/ctl2.log"; }
finish
