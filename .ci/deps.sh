#!/usr/bin/env bash
# Installs the Debian packages progan-mpi builds, tests and trains with. Idempotent.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
pkgs=(libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-dev hdf5-tools pkg-config libpng-dev libjpeg-dev zlib1g-dev dataset-fashion-mnist)
# python3 and pip for the tensorboard package below.
{ command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; } || pkgs+=(python3 python3-pip)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The TensorBoard test reads the run's event files with the tensorboard package's own reader.
# Debian's python3 refuses pip installs outside a venv (PEP 668) unless told to, hence the retry.
if ! python3 -c "import tensorboard" >/dev/null 2>&1; then
  python3 -m pip install --quiet tensorboard 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages tensorboard
  python3 -c "import tensorboard"
fi
