#!/usr/bin/env bash
# fetch-kernel: prints the path of a stock Debian x86-64 kernel (a bzImage)
# cached in the directory given: a readable /boot/vmlinuz-*, else the file
# from the linux-image-amd64 package (apt-get download, only ./boot/vmlinuz
# extracted). Exits 77 with the reason on stdout when none can be had, so
# the calling test is reported as skipped.
set -uo pipefail

cache=${1:?usage: fetch-kernel.sh CACHE_DIR}
skip() { echo "SKIP: no stock kernel: $*"; exit 77; }

mkdir -p "$cache" || skip "cannot create $cache"
# Tests run in parallel: one download per cache directory.
exec 9>"$cache/.lock"
flock -w 600 9 || skip "timed out waiting for $cache/.lock"
if [ -s "$cache/vmlinuz" ]; then
	echo "$cache/vmlinuz"
	exit 0
fi
for f in /boot/vmlinuz-*; do
	if [ -r "$f" ] && cp "$f" "$cache/vmlinuz.tmp"; then
		mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
		echo "$cache/vmlinuz"
		exit 0
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
echo "$cache/vmlinuz"
