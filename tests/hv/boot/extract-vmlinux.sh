#!/usr/bin/env bash
# extract-vmlinux BZIMAGE OUT: writes the uncompressed ELF vmlinux carried
# inside an x86 bzImage to OUT. The payload is found through the setup
# header (payload_offset at 0x248, payload_length at 0x24c, both relative to
# the protected-mode part at (setup_sects + 1) * 512), its compression by its
# magic; the result must be an ELF of exactly the size the kernel build
# appended to the payload. Exit 0, or 1 with the reason on stderr.
set -uo pipefail

bz=${1:?usage: extract-vmlinux.sh BZIMAGE OUT}
out=${2:?usage: extract-vmlinux.sh BZIMAGE OUT}
die() { echo "extract-vmlinux: $bz: $*" >&2; rm -f "$out.tmp" "$out.payload"; exit 1; }

# Little-endian unsigned fields of the file (x86 hosts only, like ward-hv).
u8() { od -An -tu1 -j "$1" -N1 "$bz" | tr -d ' '; }
u16() { od -An -tu2 -j "$1" -N2 "$bz" | tr -d ' '; }
u32() { od -An -tu4 -j "$1" -N4 "$bz" | tr -d ' '; }

[ -r "$bz" ] || die "cannot read it"
size=$(stat -c %s "$bz") || die "cannot stat it"
[ "$size" -ge 1024 ] || die "$size bytes: too short for a setup header"
[ "$(od -An -c -j 0x202 -N4 "$bz" | tr -d ' ')" = HdrS ] || die "no \"HdrS\" at 0x202: not a bzImage"
# payload_offset/length exist from boot protocol 2.08 on.
proto=$(u16 0x206)
[ "$proto" -ge $((0x208)) ] || die "boot protocol $(printf %#x "$proto") has no payload fields (2.08+)"
sects=$(u8 0x1f1)
[ "$sects" -ne 0 ] || sects=4
pm=$(( (sects + 1) * 512 ))
poff=$(u32 0x248)
plen=$(u32 0x24c)
start=$((pm + poff))
[ "$plen" -ge 8 ] && [ $((start + plen)) -le "$size" ] ||
	die "payload [$start, $((start + plen))) lies outside the $size-byte file"

dd if="$bz" of="$out.payload" iflag=skip_bytes,count_bytes skip="$start" \
	count="$plen" bs=1M status=none || die "cannot copy the payload"
# The build appends the uncompressed size (le32) to every format; gzip's own
# trailer (ISIZE) is the same field, for the others it is extra bytes the
# decompressors must not see.
want=$(od -An -tu4 -j $((plen - 4)) -N4 "$out.payload" | tr -d ' ')
magic=$(od -An -tx1 -N6 "$out.payload" | tr -d ' ')
trim() { dd if="$out.payload" iflag=count_bytes count=$((plen - 4)) bs=1M status=none; }
need() { command -v "$1" >/dev/null || die "payload is $2: needs $1 (Debian package $3)"; }
case $magic in
1f8b*)		need gzip gzip gzip;     fmt=gzip;  gzip -dc < "$out.payload" 2>/dev/null > "$out.tmp" ;;
fd377a585a00)	need xz xz xz-utils;     fmt=xz;    trim | xz -dc --single-stream > "$out.tmp" ;;
28b52ffd*)	need zstd zstd zstd;     fmt=zstd;  trim | zstd -dcq > "$out.tmp" ;;
02214c18*)	need lz4 lz4 lz4;        fmt=lz4;   trim | lz4 -dcq > "$out.tmp" ;;
425a68*)	need bzip2 bzip2 bzip2;  fmt=bzip2; trim | bzip2 -dc > "$out.tmp" ;;
5d0000*)	need xz lzma xz-utils;   fmt=lzma;  trim | xz --format=lzma -dc > "$out.tmp" ;;
894c5a4f*)	need lzop lzo lzop;      fmt=lzo;   trim | lzop -dc > "$out.tmp" ;;
*)		die "payload magic $magic is no compression format a kernel uses" ;;
esac
# gzip warns (status 2) about the padding after its stream: judge by the
# result, not the status.
got=$(stat -c %s "$out.tmp" 2>/dev/null || echo 0)
[ "$got" -eq "$want" ] || die "$fmt payload gave $got bytes, the kernel build recorded $want"
[ "$(od -An -tx1 -N4 "$out.tmp" | tr -d ' ')" = 7f454c46 ] || die "$fmt payload is not an ELF file"
rm -f "$out.payload"
mv "$out.tmp" "$out" || die "cannot write $out"
echo "extract-vmlinux: $bz: $fmt payload, $got-byte ELF in $out" >&2
