#!/usr/bin/env bash
# Spatial parallelism: `progan-mpi bench` on 1 rank and on N ranks at the same global batch
# (too few images for the ranks, so the N ranks split images into slabs of rows), alternated
# round by round, printing img/s, the speed-up N ranks / 1 rank (median over rounds), the
# decomposition, and the N-rank run's shares in the halo exchange, the slab gathers and the
# levels computed whole on every rank of a group.
#
#   bash Benchmarks/spatial_scaling.sh                      # 1 vs 2 ranks, batch 1, 256 and 512
#   RANKS=8 RES=1024 BATCH=3 ROUNDS=1 BIN=bundle/progan-mpi bash Benchmarks/spatial_scaling.sh
#   BASE_BIN=old/progan-mpi bash Benchmarks/spatial_scaling.sh  # also N ranks on another build (A/B)
#
# The machine must be otherwise idle: N ranks need N free cores (the script says the 1-minute
# load average before each run). One BLAS thread a rank.
#
# Environment: RANKS (2), RES ("256 512"), BATCH (1), ROUNDS (3), ITERS (1), WARMUP (1),
# BIN (.build/release/progan-mpi), BASE_BIN (none: when set, each round also runs the N ranks
# with that binary, key "base", and prints BIN / BASE_BIN), MPIRUN (mpirun), MPIRUN_ARGS (--bind-to core).
set -euo pipefail
RANKS=${RANKS:-2}
RES=${RES:-"256 512"}
BATCH=${BATCH:-1}
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-1}
WARMUP=${WARMUP:-1}
BIN=${BIN:-.build/release/progan-mpi}
BASE_BIN=${BASE_BIN:-}
MPIRUN=${MPIRUN:-mpirun}
MPIRUN_ARGS=${MPIRUN_ARGS:---bind-to core}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -x "$BIN" ] || { echo "spatial_scaling: no executable at BIN=$BIN (build with: swift build -c release)" >&2; exit 2; }
[ -z "$BASE_BIN" ] || [ -x "$BASE_BIN" ] || { echo "spatial_scaling: no executable at BASE_BIN=$BASE_BIN" >&2; exit 2; }

field() { tr ',' '\n' | sed -n "s/^{*\"$1\":\"*\([^\"}]*\)\"*}*$/\1/p" | head -1; }
load() { cut -d' ' -f1 /proc/loadavg; }
bench() {  # ranks-or-"base" res
  local args=(bench --res "$2" --batch "$BATCH" --iters "$ITERS" --warmup "$WARMUP" --json)
  if [ "$1" = 1 ]; then "$BIN" "${args[@]}" 2>/dev/null | tail -1
  elif [ "$1" = base ]; then $MPIRUN -np "$RANKS" $MPIRUN_ARGS "$BASE_BIN" "${args[@]}" 2>/dev/null | tail -1
  else $MPIRUN -np "$1" $MPIRUN_ARGS "$BIN" "${args[@]}" 2>/dev/null | tail -1; fi
}

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC'); batch $BATCH, $RANKS ranks vs 1"
declare -A ratios baseRatios
first=1
for round in $(seq 1 "$ROUNDS"); do
  for res in $RES; do
    order="1 $RANKS"; [ $((round % 2)) -eq 0 ] && order="$RANKS 1"
    if [ -n "$BASE_BIN" ]; then order="1 $RANKS base"; [ $((round % 2)) -eq 0 ] && order="base $RANKS 1"; fi
    declare -A ips=()
    for n in $order; do
      l=$(load)
      json=$(bench "$n" "$res")
      ips[$n]=$(echo "$json" | field images_per_second)
      [ -n "${ips[$n]}" ] || { echo "spatial_scaling: no result at res $res on $n rank(s) (run it by hand)" >&2; exit 1; }
      if [ $first -eq 1 ]; then echo "BLAS: $(echo "$json" | field blas_config)"; first=0; fi
      extra=""
      if [ "$n" != 1 ] && [ "$n" != base ]; then
        extra=$(printf "  [%s; halo %.1f%%, gathers %.1f%%, whole levels %.1f%%, MPI %.1f%%; peak RSS %s KiB]" \
          "$(echo "$json" | field decomposition)" \
          "$(awk -v x="$(echo "$json" | field halo_share)" 'BEGIN { print 100 * x }')" \
          "$(awk -v x="$(echo "$json" | field spatial_gather_share)" 'BEGIN { print 100 * x }')" \
          "$(awk -v x="$(echo "$json" | field replicated_share)" 'BEGIN { print 100 * x }')" \
          "$(awk -v x="$(echo "$json" | field mpi_share)" 'BEGIN { print 100 * x }')" \
          "$(echo "$json" | field peak_rss_kib)")
      else
        extra="  [peak RSS $(echo "$json" | field peak_rss_kib) KiB]"
      fi
      printf "round %d  res %4d  ranks %4s  %8.4f img/s  (load before %s)%s\n" "$round" "$res" "$n" "${ips[$n]}" "$l" "$extra"
    done
    r=$(awk -v a="${ips[$RANKS]}" -v b="${ips[1]}" 'BEGIN { printf "%.3f", a / b }')
    ratios[$res]="${ratios[$res]:-} $r"
    echo "round $round  res $res  speed-up $RANKS ranks / 1 rank: $r"
    if [ -n "$BASE_BIN" ]; then
      b=$(awk -v a="${ips[$RANKS]}" -v b="${ips[base]}" 'BEGIN { printf "%.3f", a / b }')
      baseRatios[$res]="${baseRatios[$res]:-} $b"
      echo "round $round  res $res  $RANKS ranks, BIN / BASE_BIN: $b  (BASE_BIN's speed-up: $(awk -v a="${ips[base]}" -v b="${ips[1]}" 'BEGIN { printf "%.3f", a / b }'))"
    fi
  done
done
echo
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
for res in $RES; do
  echo "res $res: speed-up $RANKS / 1 rank at batch $BATCH, median of $ROUNDS: $(echo ${ratios[$res]} | median)  (each: ${ratios[$res]# })"
  [ -z "$BASE_BIN" ] || echo "res $res: $RANKS ranks, BIN / BASE_BIN, median of $ROUNDS: $(echo ${baseRatios[$res]} | median)  (each: ${baseRatios[$res]# })"
done
