#!/usr/bin/env bash
# bench/attach/run.sh: encrypted-volume attach latency, end to end. Three
# figures per iteration, same stack, same run (swtpm, SoftHSM2 + ward-kms,
# the dev controller, ward-blk, the spin guest):
#   e2e      `ward volume attach`: caller authentication (KMS), CreateGrant,
#            CreateForwardAccessSession, POST /v1/instances with the volume
#   host     POST /v1/instances with a prepared attach spec: KMS Decrypt
#            (Recipient), TPM2_ECDH_ZGen + HPKE open, ward-blk start + ATTACH,
#            ward-hv launch
#   launch   reference: POST /v1/instances without a volume (ward-hv only)
# and the attach itself, without the VM launch and without process start-up
# or the CLI's connection set-up (on slow machines those dominate):
#   attach   control-plane steps in `ward volume attach` (caller
#            authentication, CreateGrant, CreateForwardAccessSession; timed
#            in-process) + the controller's steps 3-4 up to ward-blk's ATTACH
#            reply (timed by the controller, "volumes attached total_us")
# Median and p90 in ms, ratios to the reference. JSON to OUT_JSON; last line
# attach_ms=N (median of attach).  Usage: run.sh [BUILD_DIR [OUT_JSON]]
B=${1:-${WARD_BUILD_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)/build}}
B=$(cd "$B" && pwd)
OUT_JSON=${2:-$B/bench/attach/results.json}
case $OUT_JSON in /*) ;; *) OUT_JSON=$PWD/$OUT_JSON ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${ATTACH_BENCH_N:-20}
if [ -z "${WARD_TPM_TCTI:-}" ]; then
	# A private swtpm for the whole run.
	exec bash "$ROOT/tests/tpm/swtpm-env.sh" bash "$0" "$B" "$OUT_JSON"
fi
export WARD_BUILD_ROOT=$B WARD_SOURCE_ROOT=$ROOT
. "$ROOT/tests/attach/lib.sh"
attach_need
attach_setup >/dev/null
KID=$(make_key)
wv alice create --size 16M --kms-key "$KID" --id vol-b >/dev/null || { echo "volume create failed"; exit 1; }

ms() { echo $(( ($(date +%s%N) - $1) / 1000 )); }	# microseconds since $1
stop_all() {	# stop every instance; detach retires the grant
	for f in "$S"/instances/*.json; do
		[ -f "$f" ] && req cp DELETE "/v1/instances/$(basename "$f" .json)"
	done
	wv alice detach vol-b >/dev/null 2>&1
}
: >"$W/e2e"; : >"$W/host"; : >"$W/launch"; : >"$W/cp_us"; : >"$W/hostattach"
for i in $(seq "$N"); do
	t=$(date +%s%N)
	WARD_ATTACH_TIMING=1 wv alice attach vol-b --image spin --memory 32 >"$W/a.out" 2>&1 ||
		{ cat "$W/a.out"; exit 1; }
	ms "$t" >>"$W/e2e"
	sed -n 's/^attach timing: control_plane_us=\([0-9]*\).*/\1/p' "$W/a.out" >>"$W/cp_us"
	tail -1 <(grep -h 'volumes attached' "$W/ctl.log") | sed 's/.*total_us=//' >>"$W/hostattach"
	stop_all
	wv alice attach vol-b --image spin --memory 32 --spec-only >"$W/spec" 2>/dev/null || exit 1
	t=$(date +%s%N)
	req cp POST /v1/instances "$(cat "$W/spec")"
	ms "$t" >>"$W/host"
	[ "$STATUS" = 201 ] || { echo "host attach: $STATUS $BODY"; exit 1; }
	stop_all
	t=$(date +%s%N)
	req cp POST /v1/instances '{"image":"spin","memory_mib":32}'
	ms "$t" >>"$W/launch"
	[ "$STATUS" = 201 ] || { echo "launch: $STATUS $BODY"; exit 1; }
	stop_all
done
grep -h "unsealed into" "$W/ctl.log" | sed 's/.*kms_us=\([0-9]*\) tpm_us=\([0-9]*\) attach_us=\([0-9]*\)/\1 \2 \3/' >"$W/steps"
stop_ctl
python3 - "$W" "$N" "$OUT_JSON" <<'EOF'
import json, os, statistics, sys
w, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
res = {}
cp = [int(x) for x in open(f'{w}/cp_us').read().split()]
ha = [int(x) for x in open(f'{w}/hostattach').read().split()]
open(f'{w}/attach', 'w').write('\n'.join(str(a + b) for a, b in zip(cp, ha)))
steps = [list(map(int, l.split())) for l in open(f'{w}/steps') if l.strip()]
for k in ('attach', 'e2e', 'host', 'launch'):
    v = sorted(int(x) / 1000 for x in open(f'{w}/{k}').read().split())
    res[k] = {'median_ms': round(statistics.median(v), 1), 'p90_ms': round(v[int(0.9 * (len(v) - 1))], 1),
              'min_ms': round(v[0], 1), 'n': len(v)}
ref = res['launch']['median_ms']
print(f"{'what':<44}{'median ms':>10}{'p90 ms':>9}{'x launch':>10}")
names = {'attach': 'attach: control plane + host, to ATTACH reply',
         'e2e': 'ward volume attach, wall clock (process)', 'host': 'POST /v1/instances with volume (curl)',
         'launch': 'POST /v1/instances, no volume (reference)'}
for k in ('attach', 'e2e', 'host', 'launch'):
    r = res[k]
    r['ratio_to_launch'] = round(r['median_ms'] / ref, 2)
    print(f"{names[k]:<44}{r['median_ms']:>10}{r['p90_ms']:>9}{r['ratio_to_launch']:>10}")
res['volume_overhead_ms'] = round(res['host']['median_ms'] - ref, 1)
print(f"attach overhead on the host (KMS Decrypt + TPM ECDH + ward-blk ATTACH): {res['volume_overhead_ms']} ms")
res['control_plane_median_ms'] = round(statistics.median(cp) / 1000, 1)
for i, k in enumerate(('kms_decrypt', 'tpm_unseal', 'blk_attach')):
    res[k + '_median_ms'] = round(statistics.median(s[i] for s in steps) / 1000, 1)
print(f"medians: control plane {res['control_plane_median_ms']} ms; host: KMS Decrypt {res['kms_decrypt_median_ms']} ms, "
      f"TPM ECDH_ZGen + HPKE open {res['tpm_unseal_median_ms']} ms, ward-blk ATTACH {res['blk_attach_median_ms']} ms")
os.makedirs(os.path.dirname(out), exist_ok=True)
json.dump(res, open(out, 'w'), indent=1)
print(f"attach_ms={round(res['attach']['median_ms'])}")
EOF
