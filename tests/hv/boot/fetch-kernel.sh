#!/usr/bin/env bash
# fetch-kernel: prints the path of a stock Debian x86-64 kernel (a bzImage)
# cached in the directory given: a readable /boot/vmlinuz-*, else the file
# from the linux-image-amd64 package (apt-get download, only ./boot/vmlinuz
# extracted). With `vmlinux` as second argument it prints the uncompressed
# ELF vmlinux inside that bzImage instead (extract-vmlinux.sh, cached too).
# Exits 77 with the reason on stdout when no kernel can be had (no local
# kernel and no Debian archive), so the calling test is reported as skipped;
# 1 when the kernel was had but its vmlinux could not be extracted.
set -uo pipefail

cache=${1:?usage: fetch-kernel.sh CACHE_DIR [bzimage|vmlinux]}
what=${2:-bzimage}
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIP: no stock kernel: $*"; exit 77; }
case $what in bzimage|vmlinux) ;; *) echo "fetch-kernel: unknown kind $what"; exit 2 ;; esac

# done PATH: prints the bzImage, or extracts and prints its vmlinux (under
# the lock, so parallel tests extract once).
done_with() {
	if [ "$what" = vmlinux ]; then
		if [ ! -s "$cache/vmlinux" ]; then
			"$here/extract-vmlinux.sh" "$1" "$cache/vmlinux" >&2 || {
				echo "FAIL: cannot extract the vmlinux from $1"; exit 1; }
		fi
		echo "$cache/vmlinux"
	else
		echo "$1"
	fi
	exit 0
}

mkdir -p "$cache" || skip "cannot create $cache"
# Tests run in parallel: one download per cache directory.
exec 9>"$cache/.lock"
flock -w 600 9 || skip "timed out waiting for $cache/.lock"
[ -s "$cache/vmlinuz" ] && done_with "$cache/vmlinuz"
for f in /boot/vmlinuz-*; do
	if [ -r "$f" ] && cp "$f" "$cache/vmlinuz.tmp"; then
		mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
		done_with "$cache/vmlinuz"
	fi
done

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
	skip "no /boot/vmlinuz-* and no apt-get/dpkg-deb"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '/Depends: linux-image-/ { print $2; exit }')
[ -n "$pkg" ] || skip "apt-cache does not know linux-image-amd64"
tmp=$(mktemp -d "$cache/dl.XXXXXX") || skip "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && timeout 300 apt-get download -q "$pkg") >&2 ||
	skip "apt-get download $pkg failed (offline?)"
dpkg-deb --fsys-tarfile "$tmp"/*.deb |
	tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' ||
	skip "no ./boot/vmlinuz-* in $pkg"
mv "$tmp"/boot/vmlinuz-* "$cache/vmlinuz" || skip "cannot store the kernel"
done_with "$cache/vmlinuz"
