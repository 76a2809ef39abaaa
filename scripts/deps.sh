#!/usr/bin/env bash
# Installs the Debian packages ward needs to build, test, run the demo and the
# benchmarks. Idempotent: only missing packages are installed. Used by
# `make demo`, `make test`, `make bench` and .ci/run.
set -euo pipefail

PKGS=(
  build-essential meson ninja-build pkg-config clang lld llvm libclang-rt-14-dev
  libssl-dev libtss2-dev libseccomp-dev liburing-dev libnbd-dev libevent-dev
  libcurl4-openssl-dev libjansson-dev libsqlite3-dev libcmocka-dev libcap-dev
  swtpm swtpm-tools tpm2-tools softhsm2 p11-kit libp11-kit-dev opensc
  nbdkit qemu-system-x86 qemu-system-common qemu-utils
  python3 python3-cryptography python3-cbor2 python3-scapy awscli libcbor-dev
  cpio busybox-static bc xz-utils
  frama-c-base why3 z3 cvc4
  tcpdump tshark iproute2
  etcd-server etcd-client  # replicated ward-api (docs/ha.md): tests/api/ha_*.sh, bench/ha
  systemd man-db  # systemd-analyze verify/security and man --warnings: tests/ops/install_test.sh
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
