#!/usr/bin/env bash
# The project's test command (README.md "Run the tests"): installs Debian packages, builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# deps.sh installed the tensorboard package: its test must run, not skip.
export PROGAN_REQUIRE_TENSORBOARD=1
swift build -c release --product progan-mpi
swift test
