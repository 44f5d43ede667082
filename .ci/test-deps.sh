#!/usr/bin/env bash
# What the tests need beyond .ci/deps.sh: a one-node Slurm and network namespaces for
# cluster/tests, and the tensorboard Python package for the event-file test. Idempotent.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
# cluster/tests: Slurm daemons, client and munge; namespaces and bridges (iproute2); PID/UTS
# namespaces and setpriv (util-linux); pgrep (procps).
pkgs=(slurmctld slurmd slurm-client munge iproute2 util-linux procps)
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
