#!/usr/bin/env bash
# Submits cluster/train.sbatch to a real one-node Slurm started here (munged, slurmctld, slurmd),
# once with mpirun and once with srun as the launcher. Preempts each job twice: with SIGUSR1 to the
# batch shell (what --signal=B:USR1@120 does before the time limit), then with SIGTERM. Checks that
# each time the job checkpointed, requeued itself and resumed from that checkpoint, and that it
# ended with the same weights as an uninterrupted run.
#
#   bash cluster/tests/slurm_test.sh        # as root; needs slurmctld slurmd slurm-client munge
#
# The daemons run in a PID namespace of their own: ending its first process makes the kernel end
# every daemon, job step and rank in it, so nothing survives the test, however it stops.
set -euo pipefail
source "$(dirname "$0")/common.sh"

KIMG=0.8          # tiny preset: 4x4 to 32x32 in 0.56k images, then 32x32 up to 0.8k images
TICK=0.1          # a checkpoint every 100 images
RANKS=2
TRAIN_ARGS="--kimg $KIMG --tick-kimg $TICK"

need_binary
for tool in munged slurmctld slurmd sbatch scontrol scancel squeue unshare setpriv h5diff mpirun ss; do
  command -v "$tool" >/dev/null || die "$tool not found: run .ci/deps.sh and .ci/test-deps.sh"
done
[ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, daemons)"

WORK=$(mktemp -d /tmp/progan-slurm-test.XXXXXX)
chmod 755 "$WORK"   # munged insists that everyone may traverse the way to its socket
CLUSTER_PID=
CLUSTER_NS=
REF_PID=

# in_namespace NS: the processes whose PID namespace is NS (as readlink /proc/PID/ns/pid shows it).
in_namespace() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
  done
  true
}

cleanup() {
  local status=$?
  set +e; trap - ERR
  if [ -n "$REF_PID" ]; then kill "$REF_PID" 2>/dev/null; wait "$REF_PID" 2>/dev/null; fi
  if [ -n "$CLUSTER_PID" ]; then
    kill -KILL "$CLUSTER_PID" 2>/dev/null   # unshare; --kill-child then ends the namespace
    wait "$CLUSTER_PID" 2>/dev/null
  fi
  # Left behind would be: a process in the cluster's PID namespace (daemons, slurmstepd, ranks), or
  # one naming $WORK on its command line (the reference run).
  local left
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    left=$( (pgrep -f "$WORK"; [ -n "$CLUSTER_NS" ] && in_namespace "$CLUSTER_NS") | sort -u)
    [ -z "$left" ] && break
    sleep 0.5
  done
  if [ -n "$left" ]; then
    echo "FAIL: processes left behind, killing them:"; ps -o pid,cmd -p "${left//$'\n'/,}"
    kill -KILL $left 2>/dev/null
    status=1
  fi
  if [ "$status" -ne 0 ] && [ -d "$WORK" ]; then
    for f in "$WORK"/job.out "$WORK"/log/*.log "$WORK"/run/log.txt; do
      [ -f "$f" ] && { echo "----- $f (last lines)"; tail -n 25 "$f"; }
    done
  fi
  if [ "${KEEP_TEST_DIR:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- dataset, and the reference: the same training without interruption -----------------------
make_dataset "$WORK/data.h5"
say "reference run ($RANKS ranks, $KIMG kimg) in the background"
# (setpriv: mpirun, and with it its ranks, ends when this script ends, however it ends)
# shellcheck disable=SC2086
setpriv --pdeathsig TERM -- mpirun -np "$RANKS" --oversubscribe "$PROGAN" train --data "$WORK/data.h5" --out "$WORK/reference" \
  --preset tiny $TRAIN_ARGS >"$WORK/reference.out" 2>&1 &
REF_PID=$!

# --- a one-node Slurm -------------------------------------------------------------------------
free_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 20000 ))
    ss -Htan "sport = :$p or sport = :$((p + 1))" | grep -q . || { echo "$p"; return; }
  done
}
PORT=$(free_port)
mkdir -p "$WORK"/{munge,sock,state,spool,log}
chmod 700 "$WORK/munge"; chmod 755 "$WORK/sock"
head -c 1024 /dev/urandom >"$WORK/munge/munge.key"; chmod 600 "$WORK/munge/munge.key"
NODE=$(hostname -s)   # as on a real cluster: Open MPI then sees the job's node as its own
export SLURM_CONF=$WORK/slurm.conf
cat >"$SLURM_CONF" <<EOF
# One node, all daemons as root, state and logs under the test's directory.
ClusterName=progantest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$WORK/sock/munge.socket.2,cred_expire=5
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
# No cgroups in a container: track job processes through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
# The main scheduling loop starts a requeued job; it runs every 60 s by default.
SchedulerParameters=sched_interval=1
ReturnToService=2
KillWait=10
MinJobAge=600
NodeName=$NODE NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=30 State=UP
EOF

say "starting munged, slurmctld, slurmd (ports $PORT, $((PORT + 1)))"
# setpriv --pdeathsig: unshare dies with this script even if it is SIGKILLed; unshare --kill-child:
# the namespace's first process dies with unshare, and with it every process in the namespace.
# Inside, the first daemon to exit ends the whole cluster (wait -n), so a crash cannot go unseen.
setpriv --pdeathsig KILL -- unshare --pid --fork --kill-child --mount-proc \
  bash -c '
    munged -F --socket="$1/sock/munge.socket.2" --key-file="$1/munge/munge.key" \
      --pid-file="$1/munge/munged.pid" --seed-file="$1/munge/seed" --log-file="$1/log/munged.log" \
      >"$1/log/munged.out" 2>&1 &
    for _ in $(seq 50); do [ -S "$1/sock/munge.socket.2" ] && break; sleep 0.1; done
    slurmctld -D -f "$SLURM_CONF" >"$1/log/slurmctld.out" 2>&1 &
    slurmd -D -N "$2" -f "$SLURM_CONF" >"$1/log/slurmd.out" 2>&1 &
    wait -n
    echo "a Slurm daemon exited; stopping the test cluster" >&2' cluster "$WORK" "$NODE" \
  >"$WORK/log/cluster.out" 2>&1 &
CLUSTER_PID=$!
namespace_started() { CLUSTER_NS=$(readlink "/proc/$(pgrep -P "$CLUSTER_PID" | head -1)/ns/pid" 2>/dev/null) && [ -n "$CLUSTER_NS" ]; }
wait_for 10 namespace_started || die "the PID namespace for the daemons did not start"

node_idle() { [ "$(sinfo -h -n "$NODE" -o %t 2>/dev/null)" = idle ]; }
wait_for 60 node_idle || die "the Slurm node did not come up within 60 s"
say "Slurm is up: $(sinfo -h -o '%P %a %D %t %N')"

# --- submit, preempt twice, wait for the requeued job to finish; once a launcher -----------------
field() { scontrol show job -o "$JOB" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$1=//p"; }
finished() { case $(field JobState) in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) true ;; *) false ;; esac; }

# preempt SIGNAL N: once run N-1 of the job (restart N-1) trains and has written a checkpoint of its
# own, sends SIGNAL to the batch shell, as Slurm does before the time limit, and waits until Slurm
# counts restart N.
preempt() {
  local signal=$1 n=$2 since=0 c
  c=$(newest_checkpoint "$RUN")
  if [ -n "$c" ]; then since=$(images_of "$c"); fi
  trains() {
    local c
    c=$(newest_checkpoint "$RUN")
    [ "$(field Restarts)" = $((n - 1)) ] && [ "$(field JobState)" = RUNNING ] \
      && [ -n "$c" ] && [ "$(images_of "$c")" -gt "$since" ]
  }
  wait_for 90 trains || die "run $((n - 1)) of job $JOB wrote no checkpoint within 90 s (state $(field JobState))"
  say "job $JOB trains ($(basename "$(newest_checkpoint "$RUN")")): scancel --signal=$signal --batch"
  scancel --signal="$signal" --batch "$JOB"
  requeued() { [ "$(field Restarts)" = "$n" ]; }
  wait_for 60 requeued || die "job $JOB was not requeued within 60 s after $signal (state $(field JobState))"
  say "job $JOB requeued (restart $n, $(field JobState) $(field Reason))"
}

# run_output N: what run N of the job (restart N) printed.
run_output() {
  awk -v n="$1" '/^progan-train: job .* restart [0-9]+,/ { run = $0; sub(/.* restart /, "", run); sub(/,.*/, "", run) } run == n' <<<"$OUT"
}
trapped_each() { grep -q 'progan-train: USR1 received' <<<"$(run_output 0)" && grep -q 'progan-train: TERM received' <<<"$(run_output 1)"; }
mid_run() { [ "${#stops[@]}" = 2 ] && [ "${stops[0]}" -gt 0 ] && [ "${stops[0]}" -lt "${stops[1]}" ] && [ "${stops[1]}" -lt "$total_images" ]; }
resumed_from_stops() {
  local s
  for s in "${stops[@]}"; do grep -qF "resuming from $RUN/$(printf 'checkpoint-%09d.h5' "$s")" <<<"$OUT" || return 1; done
}

# train_job LAUNCHER: train.sbatch with LAUNCHER (mpirun or srun), preempted with USR1 (the time
# limit's --signal) and then with TERM; checks.
train_job() {
  local launcher=$1
  RUN=$WORK/run-$launcher
  JOB=$(cd "$WORK" && LAUNCHER=$launcher RUN_DIR=$RUN DATA=$WORK/data.h5 PRESET=tiny TRAIN_ARGS=$TRAIN_ARGS \
        PROGAN_MPI_BINARY=$PROGAN sbatch --parsable --partition=test --nodes=1 --ntasks=$RANKS \
        --ntasks-per-node=$RANKS --time=10 --output="$WORK/job-$launcher.out" "$REPO_ROOT/cluster/train.sbatch")
  JOB=${JOB%%;*}
  say "submitted job $JOB (LAUNCHER=$launcher)"
  preempt USR1 1
  preempt TERM 2
  wait_for 180 finished || die "job $JOB did not finish within 180 s after the requeues (state $(field JobState))"
  say "job $JOB ended: $(field JobState), exit code $(field ExitCode), restarts $(field Restarts)"
  if [ -n "$REF_PID" ]; then
    wait "$REF_PID" || die "the reference run failed: $(tail -3 "$WORK/reference.out")"
    REF_PID=
  fi

  OUT=$(cat "$WORK/job-$launcher.out")
  LOG=$(cat "$RUN/log.txt")
  # Both stops reach the ranks as SIGUSR1 (10): the script passes TERM on as USR1.
  mapfile -t stops < <(sed -n 's/^stop: signal 10 received; checkpoint written at \([0-9]*\) images.*/\1/p' <<<"$LOG")
  final_ref=$(newest_checkpoint "$WORK/reference")
  final_run=$(newest_checkpoint "$RUN")
  total_images=$(images_of "$final_ref")
  local l="[$launcher]"
  check "$l the job is requeueable (#SBATCH --requeue)" test "$(field Requeue)" = 1
  check "$l the batch script trapped USR1 (run 0), then TERM (run 1), and passed each on" trapped_each
  check "$l the ranks checkpointed mid-run both times (at ${stops[*]:-none} of $total_images images)" mid_run
  check "$l the job requeued itself twice after status 75" test "$(grep -c "progan-train: requeueing job $JOB" <<<"$OUT")" = 2
  check "$l Slurm counts two restarts" test "$(field Restarts)" = 2
  check "$l the requeued job ran as restarts 1 and 2" test -n "$(run_output 1)" -a -n "$(run_output 2)"
  check "$l each restart resumed from the checkpoint its stop wrote" resumed_from_stops
  check "$l the job completed with exit code 0" test "$(field JobState) $(field ExitCode)" = "COMPLETED 0:0"
  check "$l the training finished (log says done)" grep -q '^done:' <<<"$LOG"
  check "$l final checkpoint of the job is the reference's ($(basename "$final_ref"))" \
    test "$(basename "$final_run")" = "$(basename "$final_ref")"
  check "$l final G, D and Gs equal the uninterrupted run bit for bit" same_weights "$final_run" "$final_ref"
}

train_job mpirun
# srun starts the ranks itself where Slurm has the PMIx plugin (Debian's slurmd has it).
if srun --mpi=list 2>&1 | grep -qw pmix; then
  train_job srun
else
  echo "SKIP: LAUNCHER=srun (this Slurm has no PMIx plugin: srun --mpi=list)"
fi

# --- the benchmark script, where this progan-mpi has the bench command -----------------------------
# (An unknown subcommand's --help prints the tool's help, so look for the option itself.)
if "$PROGAN" bench --help 2>&1 | grep -q -- '--res'; then
  JOB=$(cd "$WORK" && RES=4 BATCH=2 ITERS=1 JSON=1 RESULT=$WORK/bench.json PROGAN_MPI_BINARY=$PROGAN \
        sbatch --parsable --partition=test --nodes=1 --ntasks=$RANKS --ntasks-per-node=$RANKS --time=5 \
               --output="$WORK/bench.out" "$REPO_ROOT/cluster/bench.sbatch")
  JOB=${JOB%%;*}
  say "submitted cluster/bench.sbatch as job $JOB"
  wait_for 180 finished || die "bench job $JOB did not finish within 180 s (state $(field JobState))"
  check "the bench job completed with exit code 0" test "$(field JobState) $(field ExitCode)" = "COMPLETED 0:0"
  check "the bench job wrote its JSON result" grep -q '^{.*}$' "$WORK/bench.json"
else
  echo "SKIP: cluster/bench.sbatch (this progan-mpi has no 'bench' command)"
fi

summary
