#!/usr/bin/env bash
# The project's test command (README.md "Run the tests"): installs Debian packages, builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
bash .ci/test-deps.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# deps.sh installed the tensorboard package: its test must run, not skip.
export PROGAN_REQUIRE_TENSORBOARD=1
# The training tests then fail, not skip, if the release binary is missing or older than Sources/.
export CI="${CI:-true}"
swift build -c release --product progan-mpi
swift test
# The numerical suites again under each OpenBLAS kernel this CPU can run: their tolerances are
# rounding-error bounds, so they must hold whichever kernel a machine's OpenBLAS picks (Debian's
# picks the generic Prescott on CPUs newer than itself). Already built: seconds each.
coretypes=(Prescott)
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && coretypes+=(Haswell)
grep -qw avx512f /proc/cpuinfo && coretypes+=(SkylakeX)
for coretype in "${coretypes[@]}"; do
  echo "TensorKit and Autograd tests with OPENBLAS_CORETYPE=$coretype"
  OPENBLAS_CORETYPE=$coretype swift test --skip-build --filter 'TensorKitTests|AutogradTests'
done
# The cluster tests (cluster/README.md) on that release binary: each bounded in time, all run
# even when one fails; each ends with its 'N passed, N failed' line.
failed=()
for t in slurm_test netns_hostfile_test sigkill_checkpoint_test stop_signal_test; do
  timeout --kill-after=30 300 bash "cluster/tests/$t.sh" || failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then echo "cluster tests failed: ${failed[*]}"; exit 1; fi
