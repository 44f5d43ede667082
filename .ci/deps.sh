#!/usr/bin/env bash
# Installs the Debian packages progan-mpi builds, tests and trains with. Idempotent.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
pkgs=(libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-dev hdf5-tools pkg-config libpng-dev libjpeg-dev zlib1g-dev dataset-fashion-mnist)
# cluster/tests: a one-node Slurm (daemons, client, munge), network namespaces and bridges
# (iproute2), PID/UTS namespaces and setpriv (util-linux), pgrep (procps).
pkgs+=(slurmctld slurmd slurm-client munge iproute2 util-linux procps)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
