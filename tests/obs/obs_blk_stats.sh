#!/usr/bin/env bash
# obs_blk_stats.sh: ward-blk's per-volume I/O counters over the control
# channel (BLKCTL_STATS, docs/blk.md), the numbers behind the controller's
# ward_blk_* metrics. The test driver plays the controller (ATTACH over
# blkctl) and the guest (virtio-blk over vhost-user): counters start at 0,
# then count exactly the requests and bytes it made.
. "$WARD_SOURCE_ROOT/tests/blk/lib.sh"
mkkey "$T/key"
truncate -s 16M "$T/c.img"
out=$("$DRIVER" --spawn-ctl "$WARD_BLK" --backing "$T/c.img" --size $((16<<20)) --key-file "$T/key" \
	stats write 0 64 7 flush verify 0 64 7 verify 0 16 7 stats detach 2>"$T/blk.log") ||
	fail "driver: $out"
echo "$out"
first=$(grep '^stats:' <<<"$out" | head -1)
last=$(grep '^stats:' <<<"$out" | tail -1)
[ "$first" = "stats: reads=0 writes=0 flushes=0 other=0 bytes_read=0 bytes_written=0 errors=0 latency_count=0" ] ||
	fail "counters of a fresh volume: $first"
# 64 blocks of 4096 bytes written once, read back twice (64 and 16 blocks)
[ "$last" = "stats: reads=2 writes=1 flushes=1 other=0 bytes_read=327680 bytes_written=262144 errors=0 latency_count=4" ] ||
	fail "counters after the I/O: $last"
echo "ok - STATS counts the driver's requests and bytes exactly"
