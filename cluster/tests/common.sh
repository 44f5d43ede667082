# Shared by the cluster test scripts (sourced, not run): the binary, a small dataset, checkpoint
# comparison, PASS/FAIL bookkeeping.
# shellcheck shell=bash

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The tests run the repository's own release build unless told otherwise.
PROGAN=${PROGAN_MPI_BINARY:-$REPO_ROOT/.build/release/progan-mpi}
TEST_NAME=$(basename "$0" .sh)
FAILURES=0
CHECKS=0
T0=$(date +%s)

# Under set -e a failing command ends the test; say which one (-E: in functions too).
set -E
trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited with status $?"' ERR

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

say() { echo "[$TEST_NAME $(( $(date +%s) - T0 ))s] $*"; }

# check DESCRIPTION COMMAND...: runs the command, records PASS or FAIL.
check() {
  local what=$1; shift
  CHECKS=$((CHECKS + 1))
  if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; FAILURES=$((FAILURES + 1)); fi
}

# Stops the test at once (a step that later checks depend on went wrong).
die() { echo "FAIL: $*"; CHECKS=$((CHECKS + 1)); FAILURES=$((FAILURES + 1)); summary; exit 1; }

# The time taken and the closing line 'NAME: N passed, N failed'; fails unless all passed.
summary() {
  echo "$TEST_NAME took $(( $(date +%s) - T0 )) s"
  echo "$TEST_NAME: $((CHECKS - FAILURES)) passed, $FAILURES failed"
  [ "$FAILURES" -eq 0 ] && [ "$CHECKS" -gt 0 ]
}

need_binary() {
  [ -x "$PROGAN" ] || die "no progan-mpi at $PROGAN: run 'swift build -c release --product progan-mpi' or set PROGAN_MPI_BINARY"
}

# make_dataset FILE: the Fashion-MNIST training set as a 32x32 dataset (about 2 s).
make_dataset() {
  "$PROGAN" dataset create --fashion-mnist /usr/share/datasets/fashion-mnist -o "$1" --force >/dev/null \
    || die "dataset create failed (is dataset-fashion-mnist installed? .ci/deps.sh installs it)"
}

# same_weights A B: the networks G, D and Gs of two checkpoints are equal bit for bit.
same_weights() {
  local g
  for g in /G /D /Gs; do
    if ! h5diff -q "$1" "$2" "$g" "$g"; then
      echo "  $g differs between $1 and $2:"; h5diff -r "$1" "$2" "$g" "$g" | head -5
      return 1
    fi
  done
}

# bounded SECONDS COMMAND...: runs the command with a time limit; it also ends (SIGTERM, which
# timeout passes on) when this script ends, even by SIGKILL, so that no mpirun is left behind.
bounded() {
  local limit=$1; shift
  setpriv --pdeathsig TERM -- timeout --kill-after=10 "$limit" "$@"
}

# newest_checkpoint DIR: the path of the newest checkpoint-*.h5, or nothing.
newest_checkpoint() {
  if [ -d "$1" ]; then find "$1" -maxdepth 1 -name 'checkpoint-*.h5' | sort | tail -1; fi
}

# images_of PATH: the image count in a checkpoint's name (checkpoint-000000392.h5 -> 392).
images_of() { local n; n=$(basename "$1" .h5); n=${n#checkpoint-}; echo $((10#$n)); }

# wait_for SECONDS COMMAND...: polls the command every 0.2 s until it succeeds; fails after SECONDS.
wait_for() {
  local limit=$1; shift
  local end=$(( $(date +%s) + limit ))
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}
