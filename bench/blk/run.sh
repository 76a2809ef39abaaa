#!/usr/bin/env bash
# bench/blk/run.sh [BUILD_DIR] [JSON_OUT]: ward-blk side by side with its
# references, same driver (tests/blk/vu_driver), same backing file size on
# tmpfs, each server pinned to one core and the driver to another:
#   ward-blk (AES-256-XTS) | ward-blk unencrypted | qemu-storage-daemon raw |
#   qemu-storage-daemon + LUKS (aes-xts-plain64) |
#   openssl speed -evp aes-256-xts -bytes 1048576, encrypt and -decrypt (the
#   per-core cipher limit) | bench/blk/xts_bench (the same cipher with the
#   per-sector tweak change that real sector encryption needs)
# Workloads: 4 KiB random read/write at QD 32, 1 MiB sequential read/write
# at QD 4. Prints a table and a last line
# `blk_vs_qsd_luks=X.XX seq_vs_openssl=X.XX seq_read_vs_openssl=X.XX
#  seq_write_vs_openssl=X.XX rand_vs_qsd_raw=X.XX`: seq read against openssl's
# decrypt, seq write against its encrypt, same core, same run, per core (MB
# per second of the server's CPU time, as openssl speed counts its own CPU
# time); blk_vs_qsd_luks on wall-clock MB/s.
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
XTS_BENCH=$build/bench/blk/xts_bench
for x in "$WARD_BLK" "$DRIVER" "$XTS_BENCH"; do [ -x "$x" ] || { echo "bench/blk: $x not built"; exit 1; }; done
ncpu=$(nproc)
SRV_CPU=$((ncpu > 1 ? 1 : 0)); DRV_CPU=0
ROUNDS=${BENCH_ROUNDS:-3}
T=$(mktemp -d /dev/shm/ward-blk-bench.XXXXXX)
srvs=()
cleanup() { for p in "${srvs[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

wait_sock() { for _ in $(seq 600); do [ -S "$1" ] && return 0; sleep 0.05; done; echo "no socket $1"; exit 1; }

# The machine is shared: every backend and the cipher references run in
# each of ROUNDS rounds, interleaved, and each figure is its best round, so
# all of them get the same chances at a quiet moment.
WORKLOADS=("randread 32 4096" "randwrite 32 4096" "seqread 4 1048576" "seqwrite 4 1048576")
declare -A R SOCKS PIDS
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime, all threads
best() { # KEY VALUE: R[KEY] = max (awk: a python start per figure is slow on a loaded machine)
	if [ -z "${R[$1]:-}" ] || awk -v a="$2" -v b="${R[$1]}" 'BEGIN { exit !(a + 0 > b + 0) }'; then
		R[$1]=$2
	fi
}
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; } # FIELD < one line of vu_driver JSON
run_workloads() { # NAME SOCKET
	local name=$1 sock=$2 out t0 t1
	for w in "${WORKLOADS[@]}"; do
		set -- $w
		t0=$(cpu_ticks "${PIDS[$name]}")
		out=$(taskset -c $DRV_CPU "$DRIVER" --socket "$sock" bench "$1" "$2" "$3" "$SECS" | grep '"iops"')
		t1=$(cpu_ticks "${PIDS[$name]}")
		best "$name,$1" "$(field mbps <<<"$out")"
		# Per core: MB moved per second of the server's CPU time (user +
		# system, io_uring/thread-pool workers included), as openssl
		# speed counts its own CPU time.
		best "$name,$1,cpu" "$(awk -v m="$(field mbps <<<"$out")" -v s="$(field seconds <<<"$out")" \
			-v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN { print m * s / (t > 0 ? t : 1) * hz }')"
	done
}
start_srv() { # NAME SOCKET LOG COMMAND...: one core, as the others
	local name=$1 sock=$2 log=$3; shift 3
	taskset -c $SRV_CPU "$@" >"$log" 2>&1 &
	srvs+=($!); SOCKS[$name]=$sock PIDS[$name]=$!
	wait_sock "$sock"
}

head -c 64 /dev/urandom > "$T/key"
# Prefilled (not sparse) images, one per backend: first writes into holes are
# much slower, and qemu-storage-daemon locks its image.
dd if=/dev/zero of="$T/disk.img" bs=1M count="$SIZE_MB" status=none
cp "$T/disk.img" "$T/plain.img"
cp "$T/disk.img" "$T/raw.img"
# QEMU 7.2 writes LUKS1 (aes-xts-plain64, 512-byte sectors); see docs/blk.md.
qemu-img create -q -f luks --object secret,id=s0,data=benchpass -o key-secret=s0 \
	-o cipher-alg=aes-256,cipher-mode=xts,ivgen-alg=plain64,iter-time=10,preallocation=full \
	"$T/luks.img" "${SIZE_MB}M"

start_srv wardblk "$T/w.sock" "$T/w.log" "$WARD_BLK" --socket "$T/w.sock" --backing "$T/disk.img" \
	--size "${SIZE_MB}M" --key-file "$T/key"
# BENCH_WARD_BLK_BASE=PATH: another ward-blk build (the one before a change)
# as an extra row, for before/after figures from the same run.
BASE=${BENCH_WARD_BLK_BASE:-}
if [ -n "$BASE" ]; then
	cp "$T/disk.img" "$T/base.img"
	start_srv wardblk_base "$T/b.sock" "$T/b.log" "$BASE" --socket "$T/b.sock" \
		--backing "$T/base.img" --size "${SIZE_MB}M" --key-file "$T/key"
fi
start_srv wardblk_plain "$T/p.sock" "$T/p.log" "$WARD_BLK" --socket "$T/p.sock" \
	--backing "$T/plain.img" --size "${SIZE_MB}M" --no-encryption
start_srv qsd_raw "$T/r.sock" "$T/r.log" qemu-storage-daemon \
	--blockdev driver=file,node-name=f,filename="$T/raw.img" \
	--export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$T/r.sock",writable=on
start_srv qsd_luks "$T/q.sock" "$T/q.log" qemu-storage-daemon --object secret,id=s0,data=benchpass \
	--blockdev driver=file,node-name=f,filename="$T/luks.img" \
	--blockdev driver=luks,node-name=l,file=f,key-secret=s0 \
	--export type=vhost-user-blk,id=e,node-name=l,addr.type=unix,addr.path="$T/q.sock",writable=on

ossl_speed() { # [-decrypt]: MB/s of one 1 MiB EVP update per call, one tweak
	taskset -c $SRV_CPU openssl speed -mr -seconds "$(( ${SECS%.*} > 0 ? ${SECS%.*} : 1 ))" \
		-bytes 1048576 "$@" -evp aes-256-xts 2>/dev/null | awk -F: '/^\+F:/ { print $4 / 1e6 }'
}
for round in $(seq "$ROUNDS"); do
	for name in wardblk ${BASE:+wardblk_base} wardblk_plain qsd_raw qsd_luks; do
		run_workloads "$name" "${SOCKS[$name]}"
	done
	best ossl_enc "$(ossl_speed)"
	best ossl_dec "$(ossl_speed -decrypt)"
	# The cipher as ward-blk calls it (src/lib/xts.c, a tweak per 4 KiB sector).
	read -r e d < <(taskset -c $SRV_CPU "$XTS_BENCH" "$SECS" lib_xts | awk '$1 == "lib_xts" { print $3, $6 }')
	best xts_enc "$e"; best xts_dec "$d"
done
ossl_enc=${R[ossl_enc]} ossl_dec=${R[ossl_dec]} xts_lib="${R[xts_enc]} ${R[xts_dec]}"
# The read path's floor with the store on one core: copy + cipher (what
# ward-blk does) against decrypting out of a mapping of the store.
store_floor=$(taskset -c $SRV_CPU "$XTS_BENCH" "$SECS" store | sed 's/^/  /')

PY3=python3; [ -x /usr/bin/python3 ] && PY3=/usr/bin/python3
"$PY3" - "$json" "$ossl_enc" "$ossl_dec" "$xts_lib" "$SECS" "$SIZE_MB" <<PY
import json, sys
R = {$(for k in "${!R[@]}"; do printf '"%s": %s, ' "$k" "${R[$k]}"; done)}
out, enc, dec, secs, size = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[5], sys.argv[6]
lib_enc, lib_dec = (float(v) for v in sys.argv[4].split())
wls = ["randread", "randwrite", "seqread", "seqwrite"]
names = [("wardblk", "ward-blk AES-256-XTS"), ("wardblk_plain", "ward-blk unencrypted"),
         ("qsd_raw", "qsd raw"), ("qsd_luks", "qsd + LUKS xts-plain64")]
if "wardblk_base,seqread" in R:
    names.insert(1, ("wardblk_base", "ward-blk XTS, base build"))
print(f"ward-blk benchmark: tmpfs backing {size} MiB, best of $ROUNDS rounds of {secs} s per workload, "
      "server and driver on one core each")
hdr = f"{'':30}" + "".join(f"{w:>12}" for w in ["4k rand rd", "4k rand wr", "1M seq rd", "1M seq wr"])
for sfx, title in [("", "MB/s, wall clock"), (",cpu", "MB per second of the server's CPU time (per core)")]:
    print(f"-- {title}")
    print(hdr)
    for k, label in names:
        print(f"{label:30}" + "".join(f"{R[k + ',' + w + sfx]:12.1f}" for w in wls))
    print(f"{'openssl speed xts 1 MiB':30}{'':24}{dec:12.1f}{enc:12.1f}")
    print(f"{'xts_bench lib_xts (4K tweaks)':30}{'':24}{lib_dec:12.1f}{lib_enc:12.1f}")
# openssl speed and xts_bench count their own CPU time: the per-core
# ratios compare like with like on a shared machine.
cpu = lambda k, w: R[k + ',' + w + ',cpu']
vs_qsd = {w: R['wardblk,' + w] / R['qsd_luks,' + w] for w in wls}
vs_raw = {w: cpu('wardblk', w) / cpu('qsd_raw', w) for w in wls}
rd, wr = cpu('wardblk', 'seqread') / dec, cpu('wardblk', 'seqwrite') / enc
rd_wall, wr_wall = R['wardblk,seqread'] / dec, R['wardblk,seqwrite'] / enc
rand_raw = min(vs_raw['randread'], vs_raw['randwrite'])
print("ward-blk / qsd+LUKS (wall clock): " + " ".join(f"{w}={v:.2f}" for w, v in vs_qsd.items()))
print("ward-blk / qsd raw (per core):    " + " ".join(f"{w}={v:.2f}" for w, v in vs_raw.items()))
print(f"wall clock: seq read / openssl decrypt {rd_wall:.2f}, seq write / openssl encrypt {wr_wall:.2f}")
print("read path floor on the server's core, tmpfs store (xts_bench store, MB per CPU-second):")
print("""$store_floor""")
res = {"mbps": R, "openssl_xts_mbps": {"encrypt": enc, "decrypt": dec},
       "xts_lib_mbps": {"encrypt": lib_enc, "decrypt": lib_dec},
       "vs_qsd_luks": vs_qsd, "vs_qsd_raw_per_core": vs_raw,
       "blk_vs_qsd_luks": min(vs_qsd.values()), "seq_vs_openssl": min(rd, wr),
       "seq_read_vs_openssl": rd, "seq_write_vs_openssl": wr, "rand_vs_qsd_raw": rand_raw,
       "seq_read_vs_openssl_wall": rd_wall, "seq_write_vs_openssl_wall": wr_wall}
if out:
    json.dump(res, open(out, "w"), indent=1)
print(f"blk_vs_qsd_luks={min(vs_qsd.values()):.2f} seq_vs_openssl={min(rd, wr):.2f} "
      f"seq_read_vs_openssl={rd:.2f} seq_write_vs_openssl={wr:.2f} rand_vs_qsd_raw={rand_raw:.2f}")
PY
