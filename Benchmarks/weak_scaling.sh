#!/usr/bin/env bash
# Weak scaling of full training iterations: `progan-mpi bench` at 1, 2, 4, ... ranks with the same
# images a rank, printing global img/s, efficiency = img/s at N / (N x img/s at 1) and the MPI share.
# Needs no Python (the device machine has none guaranteed). One rank a core, 1 BLAS thread a rank.
#
#   bash Benchmarks/weak_scaling.sh                         # 1 and 2 ranks, 16x16, 16 images a rank
#   RANKS="1 2 4 8 16" BIN=bundle/progan-mpi bash Benchmarks/weak_scaling.sh   # the 16-core machine
#   ROUNDS=6 CEILING=1 bash Benchmarks/weak_scaling.sh      # a noisy machine: see below
#
# On a shared or virtual machine the speed of one rank drifts by more than the effect measured, so
# ROUNDS repeats the whole set and each round's efficiencies use that round's 1-rank run; the
# summary gives the median over rounds. CEILING=1 also runs, at each N > 1, N independent 1-rank
# benches at once (pinned a core each, no MPI): what the cores reach together without any
# communication. mpirun / independent is then the part that MPI and synchronization cost.
#
# Environment: RANKS, RES (16), PER_RANK (16), ITERS (2), WARMUP (1), ROUNDS (1), CEILING (0),
# BIN (.build/release/progan-mpi), MPIRUN (mpirun), MPIRUN_ARGS (--bind-to core; add
# --oversubscribe past the core count).
set -euo pipefail
RANKS=${RANKS:-"1 2"}
RES=${RES:-16}
PER_RANK=${PER_RANK:-16}
ITERS=${ITERS:-2}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-1}
CEILING=${CEILING:-0}
BIN=${BIN:-.build/release/progan-mpi}
MPIRUN=${MPIRUN:-mpirun}
MPIRUN_ARGS=${MPIRUN_ARGS:---bind-to core}
export OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

case " $RANKS " in *" 1 "*) ;; *) echo "weak_scaling: RANKS must include 1 (the reference), got '$RANKS'" >&2; exit 2;; esac
[ -x "$BIN" ] || { echo "weak_scaling: no executable at BIN=$BIN (build with: swift build -c release)" >&2; exit 2; }

field() { tr ',' '\n' | sed -n "s/^\"$1\":\([-0-9.e+]*\).*/\1/p" | head -1; }
bench_args() { echo "bench --res $RES --batch $1 --iters $ITERS --warmup $WARMUP --json"; }
fail() { echo "weak_scaling: no result $1 (run it by hand to see why)" >&2; exit 1; }

# N independent 1-rank benches at once, pinned to cores 0..N-1 where taskset exists; prints the
# sum of their img/s.
independent() {
    local n=$1 dir i pin
    dir=$(mktemp -d)
    for ((i = 0; i < n; i++)); do
        pin=""; command -v taskset > /dev/null && pin="taskset -c $i"
        # shellcheck disable=SC2086
        $pin "$BIN" $(bench_args "$PER_RANK") > "$dir/$i.json" 2> /dev/null &
    done
    wait
    local values
    values=$(for ((i = 0; i < n; i++)); do field images_per_second < "$dir/$i.json"; done)
    rm -rf "$dir"
    [ "$(echo "$values" | grep -c .)" = "$n" ] || return 1
    echo "$values" | awk '{ s += $1 } END { printf "%.6f\n", s }'
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "weak scaling: ${RES}x${RES}, ${PER_RANK} images a rank, ${ITERS} timed iterations after ${WARMUP} warm-up, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
for ((round = 1; round <= ROUNDS; round++)); do
    [ "$ROUNDS" = 1 ] || echo "round $round of $ROUNDS ($(date -u '+%H:%M:%S'))"
    printf "%6s %8s %12s %11s %10s\n" ranks batch "img/s" efficiency "MPI share"
    base=""
    for n in 1 $(for r in $RANKS; do [ "$r" = 1 ] || echo "$r"; done); do
        batch=$((n * PER_RANK))
        if [ "$n" = 1 ]; then
            # shellcheck disable=SC2046
            out=$("$BIN" $(bench_args "$batch") 2>/dev/null) || true
        else
            # shellcheck disable=SC2046,SC2086
            out=$("$MPIRUN" -np "$n" $MPIRUN_ARGS "$BIN" $(bench_args "$batch") 2>/dev/null) || true
        fi
        ips=$(echo "$out" | field images_per_second)
        share=$(echo "$out" | field mpi_share)
        [ -n "$ips" ] || fail "at $n ranks"
        [ -n "$base" ] || base=$ips
        awk -v n="$n" -v b="$batch" -v ips="$ips" -v base="$base" -v share="$share" \
            'BEGIN { printf "%6d %8d %12.3f %11.3f %9.1f%%\n", n, b, ips, ips / (n * base), 100 * share }'
        echo "$n mpirun $(awk -v ips="$ips" -v n="$n" -v base="$base" 'BEGIN { print ips / (n * base) }')" >> "$log"
        if [ "$CEILING" = 1 ] && [ "$n" != 1 ]; then
            sum=$(independent "$n") || fail "from $n independent 1-rank benches"
            awk -v n="$n" -v ips="$sum" -v base="$base" \
                'BEGIN { printf "%6s %8s %12.3f %11.3f %10s\n", n "x1", "-", ips, ips / (n * base), "(no MPI)" }'
            echo "$n independent $(awk -v ips="$sum" -v n="$n" -v base="$base" 'BEGIN { print ips / (n * base) }')" >> "$log"
        fi
    done
done

if [ "$ROUNDS" != 1 ]; then
    # values N KIND: that round-by-round column of the log, one number a line.
    values() { awk -v n="$1" -v k="$2" '$1 == n && $2 == k { print $3 }' "$log"; }
    median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
    echo "median over $ROUNDS rounds (each round against its own 1-rank run):"
    for n in $RANKS; do
        [ "$n" = 1 ] && continue
        line=$(printf "%6d ranks: efficiency %.3f (range %s)" "$n" "$(values "$n" mpirun | median)" \
            "$(values "$n" mpirun | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f-%.3f", lo, hi }')")
        if [ "$CEILING" = 1 ]; then
            ratio=$(paste <(values "$n" mpirun) <(values "$n" independent) | awk '{ print $1 / $2 }' | median)
            line+=$(printf "; %d independent processes %.3f; mpirun / independent %.3f" "$n" \
                "$(values "$n" independent | median)" "$ratio")
        fi
        echo "$line"
    done
fi
