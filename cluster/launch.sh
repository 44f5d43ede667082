#!/usr/bin/env bash
# Runs an MPI launcher (mpirun or srun) so that SIGTERM, SIGINT (Ctrl-C) and SIGHUP make every rank
# finish its step, checkpoint and exit with status 75, however long a step takes:
#
#   cluster/launch.sh mpirun -np 8 .build/release/progan-mpi train --data d.h5 --out runs/x --resume auto
#   cluster/launch.sh srun --mpi=pmix -n 64 .build/release/progan-mpi train ...
#
# Why: on SIGTERM or SIGINT Open MPI's mpirun (4.1) sends SIGTERM to the ranks and SIGKILL
# odls_base_sigkill_timeout seconds later (1 s by default), so a step longer than that is lost with
# everything since the last periodic checkpoint; raising the timeout makes mpirun sit out the whole
# timeout even after the ranks are done, and it still exits 1. srun kills the tasks on a second
# Ctrl-C. Both pass SIGUSR1 on to the ranks unchanged, and SIGUSR1 is the trainer's own "checkpoint
# and stop". So this script starts the launcher in a process group of its own (a terminal's Ctrl-C
# reaches only this script) and turns TERM, INT and HUP into one SIGUSR1 for the launcher. A second
# Ctrl-C sends SIGTERM to the launcher: the job ends at once, without a checkpoint.
#
# Exit status: the launcher's (75 after a stop: rerun with --resume auto).
set -uo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 mpirun|srun [launcher options] PROGRAM [arguments]" >&2
  exit 2
fi

# set -m: background jobs get a process group of their own. stdin from /dev/null: a job outside the
# terminal's foreground group that reads the terminal is stopped (SIGTTIN); the trainer reads no input.
set -m
"$@" </dev/null &
launcher=$!
set +m

interrupts=0
forward() {
  if [ "$1" = INT ]; then interrupts=$((interrupts + 1)); fi
  if [ "$interrupts" -ge 2 ]; then
    echo "launch.sh: second SIGINT: ending the job now, without a checkpoint" >&2
    kill -TERM "$launcher" 2>/dev/null || true
    return
  fi
  echo "launch.sh: SIG$1 received: the ranks finish their step, write a checkpoint and exit with status 75 (Ctrl-C again ends the job without one)" >&2
  kill -USR1 "$launcher" 2>/dev/null || true
}
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward HUP' HUP
trap 'kill -USR1 "$launcher" 2>/dev/null || true' USR1

# 'wait' returns early (status > 128) when a trapped signal arrives: wait again until the launcher
# has really ended.
status=0
while :; do
  wait "$launcher" && status=0 || status=$?
  kill -0 "$launcher" 2>/dev/null || break
done
exit "$status"
