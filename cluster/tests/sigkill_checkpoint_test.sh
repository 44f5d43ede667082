#!/usr/bin/env bash
# SIGKILL (no chance to save) in the middle of a checkpoint write. Checks: the killed write left only
# its temporary file (.checkpoint-N.h5.tmp-PID), never a checkpoint-N.h5; every checkpoint-*.h5
# present is complete; --resume auto continues from the last periodic checkpoint before the kill
# (so at most the steps since it are lost), and removes the leftover temporary file.
#
#   bash cluster/tests/sigkill_checkpoint_test.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"

# A network whose checkpoint takes about a second to write: the paper's widths (512 channels) up
# to 8x8, 11M parameters each in G and D, a 316 MB checkpoint; a small minibatch keeps the steps
# short. A tick is one step, and every second tick writes a periodic checkpoint.
MINIBATCH=4
TICK_KIMG=0.004             # one step of MINIBATCH images
PERIOD=$((2 * MINIBATCH))   # images between periodic checkpoints
ATTEMPTS=4                  # periodic checkpoints to try to hit mid-write, from the second one on

need_binary
for tool in h5ls h5dump setpriv; do command -v "$tool" >/dev/null || die "$tool not found: run .ci/deps.sh and .ci/test-deps.sh"; done

WORK=$(mktemp -d /tmp/progan-sigkill-test.XXXXXX)
RUN=$WORK/run
TRAIN_PID=
cleanup() {
  local status=$?
  set +e; trap - ERR
  if [ -n "$TRAIN_PID" ]; then kill -KILL "$TRAIN_PID" 2>/dev/null; wait "$TRAIN_PID" 2>/dev/null; fi
  if [ "$status" -ne 0 ]; then
    for f in "$WORK"/*.out; do [ -f "$f" ] && { echo "----- $f (last lines)"; tail -n 15 "$f"; }; done
    ls -la "$RUN" 2>/dev/null
  fi
  if [ "${KEEP_TEST_DIR:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

make_dataset "$WORK/data.h5"
TRAIN=(train --data "$WORK/data.h5" --out "$RUN" --preset paper --resolution 8 \
       --minibatch "$MINIBATCH" --tick-kimg "$TICK_KIMG" --checkpoint-ticks 2)

say "training the paper's network at 4x4, a checkpoint every $PERIOD images"
# Not under timeout: TRAIN_PID must be the trainer itself. setpriv: it dies with this script.
setpriv --pdeathsig KILL -- "$PROGAN" "${TRAIN[@]}" >"$WORK/train.out" 2>&1 &
TRAIN_PID=$!

# Wait for the temporary file of checkpoint N, let the write go on for 0-0.4 s, then SIGKILL if the
# write is still going on; if it finished first (a fast disk), aim at the next one.
temporary_of() { compgen -G "$RUN/.checkpoint-$(printf %09d "$1").h5.tmp-*" | head -1; }
killed_at=
for attempt in $(seq "$ATTEMPTS"); do
  target=$(( (attempt + 1) * PERIOD ))
  appeared() { [ -n "$(temporary_of "$target")" ] || ! kill -0 "$TRAIN_PID" 2>/dev/null; }
  wait_for 120 appeared || die "no write of checkpoint $target began within 120 s"
  kill -0 "$TRAIN_PID" 2>/dev/null || die "training ended early: $(tail -3 "$WORK/train.out")"
  delay=$(( attempt < ATTEMPTS ? RANDOM % 5 : 0 ))
  sleep "0.$delay"
  temporary=$(temporary_of "$target")
  if [ -n "$temporary" ]; then
    kill -KILL "$TRAIN_PID"
    killed_at=$target
    say "SIGKILL $(( delay * 100 )) ms after the write of checkpoint $target was seen to begin"
    break
  fi
  say "checkpoint $target was written within $(( delay * 100 )) ms; aiming at the next one"
done
[ -n "$killed_at" ] || die "no checkpoint write could be hit in $ATTEMPTS attempts"
wait "$TRAIN_PID" 2>/dev/null && code=0 || code=$?
TRAIN_PID=

# --- the state the kill left ---------------------------------------------------------------------
datasets() { h5ls -r "$1" | awk '$2 == "Dataset" { print $1 }' | sort; }
check "the training process died by SIGKILL (status $code)" test "$code" -eq 137
check "the interrupted write left its temporary file $(basename "$temporary")" test -f "$temporary"
check "no checkpoint-$(printf %09d "$killed_at").h5 appeared" test ! -e "$RUN/$(printf 'checkpoint-%09d.h5' "$killed_at")"
mapfile -t complete < <(find "$RUN" -maxdepth 1 -name 'checkpoint-*.h5' | sort)
say "checkpoints on disk: ${complete[*]##*/}; temporary: $(du -h "$temporary" | cut -f1) of $(du -h "${complete[-1]}" | cut -f1)"
check "complete checkpoints remain" test "${#complete[@]}" -ge 1
reference_list=$(datasets "${complete[0]}")
# A complete checkpoint has each network's parameters once per copy: G, Gs, Adam m and v of G; D,
# Adam m and v of D.
full_layout() {
  local g d
  g=$(grep -c '^/G/' <<<"$1"); d=$(grep -c '^/D/' <<<"$1")
  [ "$g" -gt 0 ] && [ "$d" -gt 0 ] && [ "$(grep -c '^/Gs/' <<<"$1")" = "$g" ] \
    && [ "$(grep -c '^/adam/G/m/' <<<"$1")" = "$g" ] && [ "$(grep -c '^/adam/G/v/' <<<"$1")" = "$g" ] \
    && [ "$(grep -c '^/adam/D/m/' <<<"$1")" = "$d" ] && [ "$(grep -c '^/adam/D/v/' <<<"$1")" = "$d" ]
}
check "the oldest checkpoint holds G, D, Gs and both Adam states ($(wc -l <<<"$reference_list") datasets)" \
  full_layout "$reference_list"
for f in "${complete[@]}"; do
  check "$(basename "$f") opens and has every dataset and its progress" \
    test "$(datasets "$f")" = "$reference_list" -a -n "$(h5dump -a /progress "$f" 2>/dev/null | grep imagesShown)"
done

# --- resume ----------------------------------------------------------------------------------------
last=${complete[-1]}
say "resuming with --resume auto for one step"
bounded 300 "$PROGAN" "${TRAIN[@]}" --resume auto --max-steps 1 >"$WORK/resume.out" 2>&1 || die "resume failed: $(tail -3 "$WORK/resume.out")"
resumed_from=$(sed -n 's/^resuming from //p' "$WORK/resume.out")
check "--resume auto picked the newest complete checkpoint ($(basename "$last"))" test "$resumed_from" = "$last"
check "it is the last periodic checkpoint before the kill: at most $PERIOD images lost" \
  test "$(images_of "$resumed_from")" -eq $(( killed_at - PERIOD ))
check "the resumed run removed the leftover temporary file" test ! -e "$temporary"
check "the log names the removed file" grep -q "^removed $(basename "$temporary"): " "$RUN/log.txt"
check "the resumed run trained on and wrote checkpoint $(( killed_at - PERIOD + MINIBATCH ))" \
  test -f "$RUN/$(printf 'checkpoint-%09d.h5' $(( killed_at - PERIOD + MINIBATCH )))"
check "no temporary checkpoint files are left" test -z "$(find "$RUN" -name '.checkpoint-*')"
check "the new checkpoint is complete too" test "$(datasets "$(newest_checkpoint "$RUN")")" = "$reference_list"

summary
