#!/usr/bin/env bash
# Threads inside one rank: `progan-mpi bench` with --threads 1 and --threads T alternated, at
# each resolution, printing img/s and the speed-up T threads / 1 thread (median over rounds).
#
#   bash Benchmarks/threads_scaling.sh                        # 32, 64, 128; 1 vs 2 threads; 3 rounds
#   RES="64 256" THREADS=16 ROUNDS=5 bash Benchmarks/threads_scaling.sh
#
# On a shared machine other processes take cores from the T-thread run more than from the
# 1-thread one, so each run's line carries the 1-minute load average taken just before it: read
# the speed-ups against it. The order alternates each round (1 then T, T then 1) so a drift in
# the machine's speed does not favour either. Where the kernel shares the CPUs between sessions
# (/proc/sys/kernel/sched_autogroup_enabled = 1), `nice` does not help; a session of its own at
# autogroup nice -20 does (root):
#   setsid bash -c 'echo -20 > /proc/self/autogroup; bash Benchmarks/threads_scaling.sh'
#
# Environment: RES ("32 64 128"), BATCH (per resolution "32:4 64:2 128:2"; default 4), THREADS
# (2), ROUNDS (3), ITERS (2), WARMUP (1), BIN (.build/release/progan-mpi).
set -euo pipefail
RES=${RES:-"32 64 128"}
BATCH=${BATCH:-"32:4 64:2 128:2"}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-2}
WARMUP=${WARMUP:-1}
BIN=${BIN:-.build/release/progan-mpi}
[ -x "$BIN" ] || { echo "threads_scaling: no executable at BIN=$BIN (build with: swift build -c release)" >&2; exit 2; }

field() { tr ',' '\n' | sed -n "s/^{*\"$1\":\"*\([^\"}]*\)\"*}*$/\1/p" | head -1; }
batch_for() { for b in $BATCH; do [ "${b%%:*}" = "$1" ] && { echo "${b#*:}"; return; }; done; echo 4; }
load() { cut -d' ' -f1 /proc/loadavg; }

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC')"
first=1
declare -A ratios
for round in $(seq 1 "$ROUNDS"); do
  for res in $RES; do
    batch=$(batch_for "$res")
    order="1 $THREADS"; [ $((round % 2)) -eq 0 ] && order="$THREADS 1"
    declare -A ips=()
    for t in $order; do
      l=$(load)
      json=$("$BIN" bench --res "$res" --batch "$batch" --threads "$t" --iters "$ITERS" --warmup "$WARMUP" --json 2>/dev/null | tail -1)
      ips[$t]=$(echo "$json" | field images_per_second)
      [ -n "${ips[$t]}" ] || { echo "threads_scaling: no result at res $res, $t threads (run it by hand)" >&2; exit 1; }
      if [ $first -eq 1 ]; then echo "BLAS: $(echo "$json" | field blas_config)"; first=0; fi
      printf "round %d  res %4d  batch %d  threads %2d  %8.4f img/s  (load before %s)\n" "$round" "$res" "$batch" "$t" "${ips[$t]}" "$l"
    done
    r=$(awk -v a="${ips[$THREADS]}" -v b="${ips[1]}" 'BEGIN { printf "%.3f", a / b }')
    ratios[$res]="${ratios[$res]:-} $r"
    echo "round $round  res $res  speed-up $THREADS threads / 1 thread: $r"
  done
done
echo
for res in $RES; do
  med=$(echo ${ratios[$res]} | tr ' ' '\n' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }')
  echo "res $res: speed-up $THREADS / 1 thread, median of $ROUNDS: $med  (each: ${ratios[$res]# })"
done
