#!/usr/bin/env bash
# SIGTERM, and separately SIGINT as a terminal's Ctrl-C sends it, to a two-rank job launched the way
# README shows (cluster/launch.sh mpirun ...), while the ranks are in the middle of steps of several
# seconds (longer than Open MPI's 1 s between its own SIGTERM and SIGKILL of the ranks). Checks: the
# job exits with status 75; the log says which signal; a checkpoint of the step that was running
# when the signal came, i.e. the last finished one, is on disk (no step lost); --resume auto continues
# from it and trains the next step.
#
#   bash cluster/tests/stop_signal_test.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"

# The paper's widths (512 channels) at 4x4 with 8 images a step: several seconds a step on one core.
# A tick is one step (a line in the output each), and no periodic checkpoint is due.
MINIBATCH=8
TICK_KIMG=0.008
LAUNCH=$REPO_ROOT/cluster/launch.sh

need_binary
for tool in mpirun setpriv bc pgrep; do command -v "$tool" >/dev/null || die "$tool not found: run .ci/deps.sh and .ci/test-deps.sh"; done
export OMPI_MCA_rmaps_base_oversubscribe=1

WORK=$(mktemp -d /tmp/progan-stop-test.XXXXXX)
JOB_PID=
cleanup() {
  local status=$?
  set +e; trap - ERR
  # The launch script's child is mpirun, whose end ends the ranks.
  if [ -n "$JOB_PID" ]; then
    for child in $(pgrep -P "$JOB_PID"); do kill -KILL "$child" 2>/dev/null; done
    kill -KILL "$JOB_PID" 2>/dev/null; wait "$JOB_PID" 2>/dev/null
  fi
  if [ "$status" -ne 0 ]; then
    for f in "$WORK"/*.out; do [ -f "$f" ] && { echo "----- $f (last lines)"; tail -n 15 "$f"; }; done
  fi
  if [ "${KEEP_TEST_DIR:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

make_dataset "$WORK/data.h5"

# stop_and_resume SIGNAL HOW: HOW is 'pid' (kill the launch script) or 'group' (kill its whole
# process group, as a terminal does on Ctrl-C).
stop_and_resume() {
  local sig=$1 how=$2 run=$WORK/run-$1 out=$WORK/$1.out
  local train=(train --data "$WORK/data.h5" --out "$run" --preset paper --resolution 8 --minibatch "$MINIBATCH"
               --tick-kimg "$TICK_KIMG" --checkpoint-ticks 1000 --no-tensorboard)
  say "SIG$sig ($how): two ranks, a tick line every step"
  # set -m: the job is a process group of its own, like a command at a terminal's prompt, and
  # does not start with SIGINT ignored (as background jobs of a script without job control do).
  set -m
  setpriv --pdeathsig KILL -- "$LAUNCH" mpirun -np 2 "$PROGAN" "${train[@]}" >"$out" 2>&1 &
  JOB_PID=$!
  set +m
  ticks() { grep -c '^kimg' "$out" || true; }
  two_steps() { [ "$(ticks)" -ge 2 ]; }
  # After two finished steps, wait into the third, then signal.
  wait_for 240 two_steps || die "SIG$sig: no two steps within 240 s: $(tail -3 "$out")"
  local seen; seen=$(ticks)
  sleep 1
  local t0; t0=$(date +%s.%N)
  if [ "$how" = group ]; then kill -"$sig" -- -"$JOB_PID"; else kill -"$sig" "$JOB_PID"; fi
  local code=0
  wait "$JOB_PID" || code=$?
  JOB_PID=
  local took; took=$(echo "$(date +%s.%N) - $t0" | bc)
  say "SIG$sig: the job exited with status $code $took s after the signal"
  local steps; steps=$(ticks)
  check "SIG$sig: exit status 75" test "$code" -eq 75
  check "SIG$sig: the stop took longer than mpirun's 1 s before SIGKILL ($took s), so the step was longer" \
    test "$(echo "$took > 1.5" | bc)" -eq 1
  check "SIG$sig: launch.sh passed it on as SIGUSR1" grep -q "^launch.sh: SIG$sig received" "$out"
  check "SIG$sig: the ranks stopped on it" grep -q "^stop: signal $(kill -l USR1) received; checkpoint written" "$run/log.txt"
  local saved; saved=$(newest_checkpoint "$run")
  check "SIG$sig: a checkpoint was written" test -n "$saved"
  [ -n "$saved" ] || return 0
  # The step running at the signal finished (its tick line printed) and was saved; none after it.
  check "SIG$sig: the checkpoint holds the last finished step ($(images_of "$saved") images = $steps steps of $MINIBATCH, $seen done before the signal)" \
    test "$(images_of "$saved")" -eq $(( steps * MINIBATCH )) -a "$steps" -gt "$seen"
  check "SIG$sig: no temporary file left" test -z "$(find "$run" -name '.checkpoint-*')"
  bounded 300 "$PROGAN" "${train[@]}" --resume auto --max-steps 1 >"$WORK/$sig-resume.out" 2>&1 \
    || die "SIG$sig: resume failed: $(tail -3 "$WORK/$sig-resume.out")"
  check "SIG$sig: --resume auto continued from that checkpoint" grep -qx "resuming from $saved" "$WORK/$sig-resume.out"
  check "SIG$sig: the resumed run trained the next step" \
    test -f "$run/$(printf 'checkpoint-%09d.h5' $(( $(images_of "$saved") + MINIBATCH )))"
}

[ "${ONLY:-}" = INT ] || stop_and_resume TERM pid
stop_and_resume INT group

summary
