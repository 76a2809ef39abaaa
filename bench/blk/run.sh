#!/usr/bin/env bash
# bench/blk/run.sh [BUILD_DIR] [JSON_OUT]: ward-blk side by side with its
# references, same driver (tests/blk/vu_driver), same backing file size on
# tmpfs, each server pinned to one core and the driver to another:
#   ward-blk (AES-256-XTS) | qemu-storage-daemon + LUKS (aes-xts-plain64) |
#   ward-blk unencrypted  | openssl speed -evp aes-256-xts (per-core limit)
# Workloads: 4 KiB random read/write at QD 32, 1 MiB sequential read/write.
# Prints a table and a last line `blk_vs_qsd_luks=X.XX seq_vs_openssl=X.XX`.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=build json=
if [ $# -ge 1 ] && [ -d "$1" ]; then build=$1; shift; fi
[ $# -ge 1 ] && json=$1
build=$(cd "$build" && pwd)
SECS=${BENCH_SECS:-3}
SIZE_MB=${BENCH_SIZE_MB:-512}
WARD_BLK=$build/src/blk/ward-blk
DRIVER=$build/tests/blk/vu_driver
for x in "$WARD_BLK" "$DRIVER"; do [ -x "$x" ] || { echo "bench/blk: $x not built"; exit 1; }; done
ncpu=$(nproc)
SRV_CPU=$((ncpu > 1 ? 1 : 0)); DRV_CPU=0
T=$(mktemp -d /dev/shm/ward-blk-bench.XXXXXX)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

wait_sock() { for _ in $(seq 600); do [ -S "$1" ] && return 0; sleep 0.05; done; echo "no socket $1"; exit 1; }
stop_srv() { kill "$srv"; wait "$srv" 2>/dev/null || true; srv=; }

WORKLOADS=("randread 32 4096" "randwrite 32 4096" "seqread 4 1048576" "seqwrite 4 1048576")
declare -A R
run_workloads() { # NAME SOCKET
	for w in "${WORKLOADS[@]}"; do
		set -- $w
		out=$(taskset -c $DRV_CPU "$DRIVER" --socket "$SOCK" bench "$1" "$2" "$3" "$SECS" | grep '"iops"')
		R[$NAME,$1]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["mbps"])' "$out")
	done
}

head -c 64 /dev/urandom > "$T/key"
# Prefilled (not sparse) images: first writes into holes are much slower.
dd if=/dev/zero of="$T/disk.img" bs=1M count="$SIZE_MB" status=none

NAME=wardblk SOCK=$T/w.sock
taskset -c $SRV_CPU "$WARD_BLK" --socket "$SOCK" --backing "$T/disk.img" --size "${SIZE_MB}M" --key-file "$T/key" 2>"$T/w.log" &
srv=$!; wait_sock "$SOCK"; run_workloads; stop_srv

NAME=wardblk_plain SOCK=$T/p.sock
taskset -c $SRV_CPU "$WARD_BLK" --socket "$SOCK" --backing "$T/disk.img" --size "${SIZE_MB}M" --no-encryption 2>"$T/p.log" &
srv=$!; wait_sock "$SOCK"; run_workloads; stop_srv

# QEMU 7.2 writes LUKS1 (aes-xts-plain64, 512-byte sectors); see docs/blk.md.
qemu-img create -q -f luks --object secret,id=s0,data=benchpass -o key-secret=s0 \
	-o cipher-alg=aes-256,cipher-mode=xts,ivgen-alg=plain64,iter-time=10,preallocation=full \
	"$T/luks.img" "${SIZE_MB}M"
NAME=qsd_luks SOCK=$T/q.sock
taskset -c $SRV_CPU qemu-storage-daemon --object secret,id=s0,data=benchpass \
	--blockdev driver=file,node-name=f,filename="$T/luks.img" \
	--blockdev driver=luks,node-name=l,file=f,key-secret=s0 \
	--export type=vhost-user-blk,id=e,node-name=l,addr.type=unix,addr.path="$SOCK",writable=on \
	>"$T/q.log" 2>&1 &
srv=$!; wait_sock "$SOCK"; run_workloads; stop_srv

ossl=$(taskset -c $SRV_CPU openssl speed -mr -seconds "$SECS" -bytes 4096 -evp aes-256-xts 2>/dev/null |
	awk -F: '/^\+F:/ { print $4 / 1e6 }')

python3 - "$json" "$ossl" "$SECS" "$SIZE_MB" <<PY
import json, sys
R = {$(for k in "${!R[@]}"; do printf '"%s": %s, ' "$k" "${R[$k]}"; done)}
out, ossl, secs, size = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
wls = ["randread", "randwrite", "seqread", "seqwrite"]
names = [("wardblk", "ward-blk AES-256-XTS"), ("qsd_luks", "qsd + LUKS xts-plain64"),
         ("wardblk_plain", "ward-blk unencrypted")]
print(f"ward-blk benchmark: tmpfs backing {size} MiB, {secs} s per workload, one core per side (MB/s)")
print(f"{'':26}" + "".join(f"{w:>12}" for w in ["4k rand rd", "4k rand wr", "1M seq rd", "1M seq wr"]))
for k, label in names:
    print(f"{label:26}" + "".join(f"{R[k + ',' + w]:12.1f}" for w in wls))
print(f"{'openssl speed xts (4 KiB)':26}{ossl:12.1f}")
vs_qsd = {w: R['wardblk,' + w] / R['qsd_luks,' + w] for w in wls}
seq = min(R['wardblk,seqread'], R['wardblk,seqwrite']) / ossl
print("ward-blk / qsd+LUKS: " + " ".join(f"{w}={v:.2f}" for w, v in vs_qsd.items()))
res = {"mbps": R, "openssl_xts_mbps": ossl, "vs_qsd_luks": vs_qsd,
       "blk_vs_qsd_luks": min(vs_qsd.values()), "seq_vs_openssl": seq}
if out:
    json.dump(res, open(out, "w"), indent=1)
print(f"blk_vs_qsd_luks={min(vs_qsd.values()):.2f} seq_vs_openssl={seq:.2f}")
PY
