#!/usr/bin/env bash
# `dataset create --images` at scale: images/s with 1 and 2 threads (alternating A/B rounds, same
# folder, same machine) and peak memory (max RSS from /usr/bin/time -v) for 500 vs 2000 images.
#   FOLDER: 2000 JPEGs (python3 Benchmarks/make_jpeg_folder.py FOLDER 2000 1024)
#   SMALL:  a folder with 500 of them
#   RES (throughput, default 256), MEMRES (memory, default 1024), ROUNDS (default 2)
set -euo pipefail
P=${P:-.build/release/progan-mpi}
FOLDER=${FOLDER:?folder of 2000 JPEGs}; SMALL=${SMALL:?folder of 500 JPEGs}
RES=${RES:-256}; MEMRES=${MEMRES:-1024}; ROUNDS=${ROUNDS:-2}
TMP=${TMP_DIR:-$(mktemp -d)}
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
echo "folder: $(ls "$FOLDER" | wc -l) files, $(du -shL "$FOLDER" | cut -f1), first $(python3 -c "from PIL import Image; import sys,os; f=sorted(os.listdir(sys.argv[1]))[0]; print(Image.open(os.path.join(sys.argv[1],f)).size)" "$FOLDER")"
run() {  # threads res folder label
  local out="$TMP/d.h5"; rm -f "$out"
  /usr/bin/time -v "$P" dataset create --images "$3" --resolution "$2" --threads "$1" -o "$out" --force \
    > "$TMP/log" 2> "$TMP/time"
  local secs rss n cpu
  secs=$(grep 'Elapsed (wall clock)' "$TMP/time" | sed 's/.*: //' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident' "$TMP/time" | awk '{print $NF}')
  cpu=$(grep 'Percent of CPU' "$TMP/time" | awk '{print $NF}')
  n=$(grep -o 'wrote .*: [0-9]* images' "$TMP/log" | grep -o '[0-9]* images' | cut -d' ' -f1)
  printf '%-10s threads %d  res %4d  images %4d  %7.1f s  %6.1f images/s  CPU %5s  max RSS %5d MiB\n' "$4" "$1" "$2" "$n" "$secs" \
    "$(echo "$n / $secs" | bc -l)" "$cpu" $((rss / 1024))
  rm -f "$out"
}
for r in $(seq 1 "$ROUNDS"); do
  run 1 "$RES" "$FOLDER" "rate"
  run 2 "$RES" "$FOLDER" "rate"
done
run 2 "$MEMRES" "$SMALL" "memory"
run 2 "$MEMRES" "$FOLDER" "memory"
