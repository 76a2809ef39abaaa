#!/usr/bin/env bash
# idem_test.sh HV_STANDIN: idempotent launch (docs/controller.md "Idempotent
# launch", issue 14/15) without /dev/kvm: the dev controller's ward-hv is
# HV_STANDIN (it waits like a running VM). Checked: two POST /v1/instances
# with one client_token start one instance (the second answers 200 with it,
# GET /v1/instances lists it once); the token with other parameters is 409;
# a malformed token is 400; both outcomes are audited; the token survives a
# kill -9 of the controller (re-adopted from the instance's state file);
# once the instance has ended, the token launches a new one.
source "$(dirname "$0")/lib.sh"
STANDIN=${1:?hv_standin path}
need
[ -x "$STANDIN" ] || { echo "FAIL: $STANDIN is missing: the build did not produce it"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: ward-hv's sandbox (uid switch, namespaces) needs root"; exit 77; }
mkpki
FB=$W/fakeb
mkdir -p "$FB/src/hv" "$FB/src/blk" "$FB/guest"
cp "$STANDIN" "$FB/src/hv/ward-hv"
cp "$B/src/blk/ward-blk" "$FB/src/blk/ward-blk"
cp "$B/guest/hello.elf" "$FB/guest/"
start_ctl --dev-images "$FB"

TOK=i-0123456789abcdef0
RUN='{"image":"hello","memory_mib":32,"vcpus":1,"client_token":"'$TOK'"}'
# listed TOKEN: how many instances GET /v1/instances lists with TOKEN.
listed() {
	req cp GET /v1/instances
	python3 -c 'import json,sys; print(sum(1 for i in json.load(open(sys.argv[1]))["instances"] if i.get("client_token") == sys.argv[2]))' "$W/body" "$1"
}
# audited OUTCOME: POST /v1/instances records with the token and "idempotent": OUTCOME.
audited() {
	python3 -c 'import json,sys; print(sum(1 for r in map(json.loads, open(sys.argv[1])) if r.get("client_token") == sys.argv[2] and r.get("idempotent", "") == sys.argv[3]))' "$S/audit/leaves" "$TOK" "$1"
}

req cp POST /v1/instances "$RUN"
echo "   $STATUS $BODY"
check "first launch with the token: 201" [ "$STATUS" = 201 ]
ID=$(json_get '["id"]' <"$W/body" 2>/dev/null)
req cp POST /v1/instances "$RUN"
echo "   $STATUS $BODY"
GOT=$(json_get '["id"]' <"$W/body" 2>/dev/null)
check "the same launch again: 200, the same instance" bash -c "[ '$STATUS' = 200 ] && [ '$GOT' = '$ID' ]"
check "... answered like a create (running, its shape, the token)" \
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["state"] == "running" and d["image"] == "hello" and d["memory_mib"] == 32 and d["client_token"] == sys.argv[2] and "volumes" in d))' "$W/body" "$TOK"
check "GET /v1/instances lists it once" [ "$(listed $TOK)" = 1 ]
check "one instance on the host" [ "$(ls "$S"/instances/*.json | wc -l)" = 1 ]
req cp POST /v1/instances '{"image":"hello","memory_mib":64,"vcpus":1,"client_token":"'$TOK'"}'
echo "   $STATUS $BODY"
check "the token with other parameters: 409 token_mismatch" \
	bash -c "[ '$STATUS' = 409 ] && grep -q token_mismatch '$W/body'"
req cp POST /v1/instances '{"image":"hello","cmdline":"console=x","client_token":"'$TOK'"}'
check "... another cmdline: 409" [ "$STATUS" = 409 ]
check "still one instance" [ "$(listed $TOK)" = 1 ]
for bad in '""' '"-lead"' '"a b"' '"'$(printf 'x%.0s' $(seq 65))'"' 7; do
	req cp POST /v1/instances '{"image":"hello","client_token":'"$bad"'}'
	check "client_token $bad: 400" bash -c "[ '$STATUS' = 400 ] && grep -q client_token '$W/body'"
done
A=$(audited '')/$(audited replay)/$(audited mismatch)
check "audited: one create, one replay, two mismatches ($A)" [ "$A" = 1/1/2 ]
check "the state file keeps the token" grep -q "\"client_token\":\"$TOK\"" "$S/instances/$ID.json"

# Across a kill -9: the re-adopted instance still answers its token.
kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null; CTL_PID=""
start_ctl --dev-images "$FB"
req cp POST /v1/instances "$RUN"
echo "   $STATUS $BODY"
GOT=$(json_get '["id"]' <"$W/body" 2>/dev/null)
check "after kill -9 and restart, the same launch: 200, the same instance" \
	bash -c "[ '$STATUS' = 200 ] && [ '$GOT' = '$ID' ]"
check "... listed once" [ "$(listed $TOK)" = 1 ]
req cp POST /v1/instances '{"image":"hello","memory_mib":64,"vcpus":1,"client_token":"'$TOK'"}'
check "... other parameters: still 409" [ "$STATUS" = 409 ]

# A token names a live instance only: once it is stopped, the token
# launches again (ward-api starts a stopped instance under its same id).
req cp DELETE "/v1/instances/$ID"
check "stop it: 200" [ "$STATUS" = 200 ]
req cp POST /v1/instances "$RUN"
ID2=$(json_get '["id"]' <"$W/body" 2>/dev/null)
check "the token after its instance ended: 201, a new instance" \
	bash -c "[ '$STATUS' = 201 ] && [ -n '$ID2' ] && [ '$ID2' != '$ID' ]"
req cp DELETE "/v1/instances/$ID2"
stop_ctl
finish
