#!/usr/bin/env bash
# What -Ounchecked (Package.swift's release flag) buys over -O: `bench` at R = 4..256 with two
# binaries of the same source, A/B alternated in each round, order swapped between rounds.
#
#   B=$(mktemp -d); git archive HEAD | tar -x -C "$B"; mkdir -p "$B/.build"
#   cp -a .build/checkouts .build/repositories .build/workspace-state.json "$B/.build/"
#   sed -i 's/"-Ounchecked", "-wmo"/"-O", "-wmo"/' "$B/Package.swift"
#   (cd "$B" && swift build -c release --product progan-mpi)
#   UNCHECKED=.build/release/progan-mpi CHECKED=$B/.build/release/progan-mpi bash Benchmarks/ounchecked_vs_o.sh
#
# Each line: round, R, build, the run's CPU time (user+sys from /usr/bin/time: on a shared machine
# a far steadier figure than wall-clock img/s, which is printed too) and bench's JSON.
set -euo pipefail
UNCHECKED=${UNCHECKED:?path of the -Ounchecked binary}
CHECKED=${CHECKED:?path of the -O binary}
ROUNDS=${ROUNDS:-2}
RESOLUTIONS=${RESOLUTIONS:-4 8 16 32 64 128}
export OPENBLAS_NUM_THREADS=1
lscpu | grep 'Model name'
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for round in $(seq "$ROUNDS"); do
  for res in $RESOLUTIONS; do
    if [ $((round % 2)) = 1 ]; then order="unchecked checked"; else order="checked unchecked"; fi
    for build in $order; do
      binary=$UNCHECKED; [ "$build" = checked ] && binary=$CHECKED
      batch=2; [ "$res" -ge 256 ] && batch=1
      /usr/bin/time -f "cpu=%U+%S" -o "$tmp/time" "$binary" bench --res "$res" --batch "$batch" --iters 2 --warmup 1 --json >"$tmp/json" 2>/dev/null
      echo "round=$round res=$res build=$build $(cat "$tmp/time") $(cat "$tmp/json")"
    done
  done
done
