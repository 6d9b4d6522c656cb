#!/bin/sh
# Installs the Debian packages d2ltrain builds and tests with, once: only
# what is missing, with apt-get (sudo when not root). --bench adds what
# scripts/bench.sh compares against: PyTorch (as Debian ships it, on
# OpenBLAS) and pandas for the book's k-fold program.
set -eu
bench=""
[ "${1:-}" = --bench ] && bench="python3-torch python3-pandas libopenblas0-pthread"
pkgs="$bench gcc make pkg-config libyaml-dev libcurl4-openssl-dev libssl-dev zlib1g-dev
      libdnnl-dev libjansson-dev libdeflate-dev check dataset-fashion-mnist python3 python3-numpy openssl
      xz-utils clang-14 libclang-rt-14-dev chromium fonts-dejavu-core libopenmpi-dev openmpi-bin"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
