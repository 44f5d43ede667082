#!/usr/bin/env bash
# Installs the Debian packages progan-mpi builds and trains with. Idempotent.
# The tests need more: .ci/test-deps.sh.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
pkgs=(libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-dev hdf5-tools pkg-config libpng-dev libjpeg-dev zlib1g-dev dataset-fashion-mnist)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
