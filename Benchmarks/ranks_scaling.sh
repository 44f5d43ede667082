#!/usr/bin/env bash
# Time per step at 1 and 2 ranks and the share in the gradient all-reduce, fashion-mnist widths,
# stable 16x16 and 32x32, global batch 16; the first tick (4 steps) is a warm-up and is dropped.
# Usage (repo root, after the README main command made the dataset): bash Benchmarks/ranks_scaling.sh
set -e
P=${P:-.build/release/progan-mpi}
D=${D:-data/fashion-mnist.h5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for res in 16 32; do
 for np in 1 2; do
  rm -rf /tmp/b$res-$np
  args="train --data $D --out /tmp/b$res-$np --preset fashion-mnist --resolution $res --stabilize-kimg 0 --fade-kimg 0 --kimg 0.448 --tick-kimg 0.064"
  if [ $np = 1 ]; then $P $args > /dev/null; else mpirun -np 2 $P $args > /dev/null; fi
  python3 - $res $np <<'PY'
import json,sys
rs=[json.loads(l) for l in open('/tmp/b%s-%s/metrics.jsonl'%(sys.argv[1],sys.argv[2]))][1:]
tot=sum(sum(v for k,v in r.items() if k.startswith('time/')) for r in rs); ar=sum(r['time/allreduce'] for r in rs)
steps=len(rs)*4
sk=sum(r['sec_per_kimg'] for r in rs)/len(rs)
print("res %s ranks %s: %.3f s/step (global batch 16), %.1f img/s, MPI allreduce share %.1f%%" % (sys.argv[1], sys.argv[2], tot/steps, 1000/sk, 100*ar/tot))
PY
 done
done
