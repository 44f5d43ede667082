#!/usr/bin/env bash
# High resolutions, old build against new: `progan-mpi bench --json` of two binaries at the
# same resolution and batch, alternated round by round (old, new, old, new, ...), one rank and
# one thread each. Prints each run's img/s, achieved GFLOP/s and the plain sgemm measured in the
# same run (512x4608 * 4608x1024, the core's sgemm), then per resolution the median img/s of
# each binary, new / old, and the new build's achieved GFLOP/s over that sgemm.
#
#   BASE_BIN=/path/to/old/progan-mpi bash Benchmarks/highres_ab.sh
#   BASE_BIN=old/progan-mpi CASES="1024:3 512:6" ROUNDS=3 bash Benchmarks/highres_ab.sh
#
# The machine must be otherwise idle (one core busy at a time; the 1-minute load average is
# printed before each run).
#
# Environment: BASE_BIN (required), BIN (.build/release/progan-mpi), CASES ("512:6 1024:3",
# res:batch pairs), ROUNDS (2), ITERS (1), WARMUP (1).
set -euo pipefail
BIN=${BIN:-.build/release/progan-mpi}
BASE_BIN=${BASE_BIN:?set BASE_BIN to the old build (e.g. a worktree of an older commit, built in release)}
CASES=${CASES:-"512:6 1024:3"}
ROUNDS=${ROUNDS:-2}
ITERS=${ITERS:-1}
WARMUP=${WARMUP:-1}
export OPENBLAS_NUM_THREADS=1
for b in "$BIN" "$BASE_BIN"; do
    [ -x "$b" ] || { echo "highres_ab: no executable at $b (build with: swift build -c release)" >&2; exit 2; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "highres_ab: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs; new $BIN, old $BASE_BIN"
for c in $CASES; do
    res=${c%%:*} batch=${c##*:}
    for r in $(seq 1 "$ROUNDS"); do
        for key in old new; do
            bin=$BIN; [ "$key" = old ] && bin=$BASE_BIN
            load=$(cut -d' ' -f1 /proc/loadavg)
            "$bin" bench --res "$res" --batch "$batch" --iters "$ITERS" --warmup "$WARMUP" --json \
                > "$out/$res-$key-$r.json" 2> "$out/$res-$key-$r.err" \
                || { echo "highres_ab: $key failed at $res:"; tail -3 "$out/$res-$key-$r.err"; exit 1; }
            python3 - "$out/$res-$key-$r.json" "$key" "$r" "$load" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{d['resolution']:5d} batch {d['batch']} {sys.argv[2]} round {sys.argv[3]} (load {sys.argv[4]}): "
      f"{d['images_per_second']:.4f} img/s, {d['seconds_per_iteration']:.2f} s/iter, achieved "
      f"{d['achieved_gflops_per_rank']:.1f} GFLOP/s, plain sgemm {d['sgemm_peak_gflops']:.1f} GFLOP/s; {d['blas_config']}")
EOF
        done
    done
done
python3 - "$out" <<'EOF'
import glob, json, os, statistics, sys
runs = {}
for f in glob.glob(os.path.join(sys.argv[1], "*.json")):
    res, key, _ = os.path.basename(f)[:-5].split("-")
    runs.setdefault(int(res), {}).setdefault(key, []).append(json.load(open(f)))
print("\nres   old img/s   new img/s   new/old   new achieved / plain sgemm")
for res in sorted(runs):
    old = statistics.median(d["images_per_second"] for d in runs[res]["old"])
    new = statistics.median(d["images_per_second"] for d in runs[res]["new"])
    share = statistics.median(d["achieved_gflops_per_rank"] / d["sgemm_peak_gflops"] for d in runs[res]["new"])
    print(f"{res:5d}  {old:9.4f}  {new:9.4f}  {new / old:7.2f}   {share:.2f}")
EOF
