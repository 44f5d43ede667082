#!/usr/bin/env bash
# Weak scaling of full training iterations: `progan-mpi bench` at 1, 2, 4, ... ranks with the same
# images a rank, printing global img/s, efficiency = img/s at N / (N x img/s at 1) and the MPI share.
# Needs no Python (the device machine has none guaranteed). One rank a core, 1 BLAS thread a rank.
#
#   bash Benchmarks/weak_scaling.sh                         # 1 and 2 ranks, 16x16, 16 images a rank
#   RANKS="1 2 4 8 16" BIN=bundle/progan-mpi bash Benchmarks/weak_scaling.sh   # the 16-core machine
#
# Environment: RANKS, RES (16), PER_RANK (16), ITERS (2), WARMUP (1), BIN (.build/release/progan-mpi),
# MPIRUN (mpirun), MPIRUN_ARGS (--bind-to core; add --oversubscribe past the core count).
set -euo pipefail
RANKS=${RANKS:-"1 2"}
RES=${RES:-16}
PER_RANK=${PER_RANK:-16}
ITERS=${ITERS:-2}
WARMUP=${WARMUP:-1}
BIN=${BIN:-.build/release/progan-mpi}
MPIRUN=${MPIRUN:-mpirun}
MPIRUN_ARGS=${MPIRUN_ARGS:---bind-to core}
export OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

field() { tr ',' '\n' | sed -n "s/^\"$1\":\([-0-9.e+]*\).*/\1/p" | head -1; }

echo "weak scaling: ${RES}x${RES}, ${PER_RANK} images a rank, ${ITERS} timed iterations after ${WARMUP} warm-up, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
printf "%6s %8s %12s %11s %10s\n" ranks batch "img/s" efficiency "MPI share"
base=""
for n in $RANKS; do
    batch=$((n * PER_RANK))
    args="bench --res $RES --batch $batch --iters $ITERS --warmup $WARMUP --json"
    if [ "$n" = 1 ]; then
        out=$("$BIN" $args 2>/dev/null)
    else
        # shellcheck disable=SC2086
        out=$("$MPIRUN" -np "$n" $MPIRUN_ARGS "$BIN" $args 2>/dev/null)
    fi
    ips=$(echo "$out" | field images_per_second)
    share=$(echo "$out" | field mpi_share)
    [ -n "$ips" ] || { echo "weak_scaling: no result at $n ranks (run it by hand to see why)" >&2; exit 1; }
    [ -n "$base" ] || base=$ips
    awk -v n="$n" -v b="$batch" -v ips="$ips" -v base="$base" -v share="$share" \
        'BEGIN { printf "%6d %8d %12.3f %11.3f %9.1f%%\n", n, b, ips, ips / (n * base), 100 * share }'
done
