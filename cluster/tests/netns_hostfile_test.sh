#!/usr/bin/env bash
# Two 'hosts' on one machine: network namespaces node01 and node02 (the names in
# hostfiles/two-nodes), each with a veth into a bridge in the root namespace. mpirun, in the root
# namespace, starts its daemons in them through cluster/netns-rsh.sh instead of ssh, and the ranks
# talk over TCP on the bridge's subnet. Checks: the ranks ran in both namespaces, and training on
# the two hosts gives bit for bit the weights of the same training on one host.
#
#   bash cluster/tests/netns_hostfile_test.sh        # as root; needs iproute2, util-linux
set -euo pipefail
source "$(dirname "$0")/common.sh"

RANKS=4           # two a host
HOSTFILE=$REPO_ROOT/hostfiles/two-nodes
HOSTS=(node01 node02)

need_binary
for tool in ip unshare setpriv mpirun h5diff; do command -v "$tool" >/dev/null || die "$tool not found: run .ci/deps.sh and .ci/test-deps.sh"; done
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces)"

# Names carry this script's PID: runs side by side cannot collide, and a later run can tell the
# leftovers of a run that was SIGKILLed (no trap runs then) from those of a live one.
ID=$$
PREFIX=pg$ID-                 # namespace of host node01: pg<ID>-node01
BRIDGE=pgbr$ID                # veths: pgv<ID>-<i> (interface names have at most 15 characters)
SUBNET=
for _ in $(seq 20); do
  octet=$(( RANDOM % 250 + 1 ))
  ip -4 route | grep -q "^10\.213\.$octet\." || { SUBNET=10.213.$octet; break; }
done
[ -n "$SUBNET" ] || die "no free 10.213.x.0/24 subnet"

# remove_topology ID: the namespaces (and any process still in them), veths and bridge of run ID.
# A subshell without errexit: removing a namespace may already have taken its veth pair with it.
remove_topology() (
  set +e; trap - ERR
  for ns in $(ip netns list | awk '{ print $1 }' | grep "^pg$1-"); do
    # A namespace with processes in it outlives its name: end them first.
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null; sleep 0.5; fi
    ip netns del "$ns"
  done
  for link in $(ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | grep -E "^(pgv$1-[0-9]+|pgbr$1)$"); do
    ip link del "$link" 2>/dev/null
  done
  true
)

# Leftovers of earlier runs whose script no longer runs.
for stale in $( (ip netns list | sed -n 's/^pg\([0-9]*\)-node.*/\1/p'; ip -o link show | sed -n 's/^[0-9]*: pgbr\([0-9]*\):.*/\1/p') | sort -u); do
  if ! tr '\0' ' ' 2>/dev/null <"/proc/$stale/cmdline" | grep -q netns_hostfile_test; then
    say "removing the namespaces and links left by run $stale"
    remove_topology "$stale"
  fi
done

WORK=$(mktemp -d /tmp/progan-netns-test.XXXXXX)
cleanup() {
  local status=$?
  set +e; trap - ERR
  remove_topology "$ID"
  if ip netns list | grep -q "^$PREFIX" || ip -o link show | grep -qE ": (pgv$ID-[0-9]+|$BRIDGE)[:@]"; then
    echo "FAIL: namespaces or links left behind:"; ip netns list | grep "^$PREFIX"; ip -o link show | grep -E "pg(v|br)$ID"
    status=1
  fi
  if [ "$status" -ne 0 ]; then
    for f in "$WORK"/*.out; do [ -f "$f" ] && { echo "----- $f (last lines)"; tail -n 20 "$f"; }; done
  fi
  if [ "${KEEP_TEST_DIR:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- the hosts ----------------------------------------------------------------------------------
say "bridge $BRIDGE $SUBNET.1/24; hosts ${HOSTS[*]} as namespaces $PREFIX*"
ip link add "$BRIDGE" type bridge
ip addr add "$SUBNET.1/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
for i in "${!HOSTS[@]}"; do
  ns=$PREFIX${HOSTS[$i]}
  ip netns add "$ns"
  # veth pair: one end on the bridge (names: at most 15 characters), the other the host's eth0.
  ip link add "pgv$ID-$i" type veth peer name eth0 netns "$ns"
  ip link set "pgv$ID-$i" master "$BRIDGE" up
  ip -n "$ns" addr add "$SUBNET.$((11 + i))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up   # Open MPI's daemons talk to their local ranks over loopback too
done

export NETNS_PREFIX=$PREFIX
# ssh replaced by the namespace launcher; all MPI traffic on the bridge's subnet; shared memory
# only within a host; ranks yield the CPU while they wait (more ranks than this machine's cores).
MPIRUN=(mpirun --hostfile "$HOSTFILE" -np "$RANKS" --map-by node
        --mca plm_rsh_agent "$REPO_ROOT/cluster/netns-rsh.sh"
        --mca oob_tcp_if_include "$SUBNET.0/24" --mca btl_tcp_if_include "$SUBNET.0/24"
        --mca btl self,vader,tcp --mca mpi_yield_when_idle 1)

# --- where the ranks run --------------------------------------------------------------------------
say "mpirun across the namespaces with $(basename "$HOSTFILE")"
bounded 60 "${MPIRUN[@]}" sh -c 'echo "rank $OMPI_COMM_WORLD_RANK on $(hostname) $(ip -4 -o addr show dev eth0 | awk "{print \$4}")"' \
  >"$WORK/where.out" 2>&1 || die "mpirun across the namespaces failed: $(tail -5 "$WORK/where.out")"
where=$(grep '^rank' "$WORK/where.out" | sort)
echo "$where" | sed 's/^/  /'
expected=$(printf '%s\n' "rank 0 on node01 $SUBNET.11/24" "rank 1 on node02 $SUBNET.12/24" \
                          "rank 2 on node01 $SUBNET.11/24" "rank 3 on node02 $SUBNET.12/24")
check "ranks 0,2 ran in node01 and 1,3 in node02, each with its host's address" test "$where" = "$expected"

# --- the same training on two hosts and on one -----------------------------------------------------
make_dataset "$WORK/data.h5"
TRAIN=(train --data "$WORK/data.h5" --preset tiny --tick-kimg 0.2)
say "training with $RANKS ranks on two hosts"
bounded 180 "${MPIRUN[@]}" --display-map "$PROGAN" "${TRAIN[@]}" --out "$WORK/hosts" >"$WORK/hosts.out" 2>&1 \
  || die "training across the namespaces failed: $(tail -5 "$WORK/hosts.out")"
say "training with $RANKS ranks on this host"
bounded 180 mpirun -np "$RANKS" --oversubscribe "$PROGAN" "${TRAIN[@]}" --out "$WORK/local" >"$WORK/local.out" 2>&1 \
  || die "training on one host failed: $(tail -5 "$WORK/local.out")"

hosts_final=$(newest_checkpoint "$WORK/hosts")
local_final=$(newest_checkpoint "$WORK/local")
check "the two-host job mapped 2 ranks to each node" \
  test "$(grep -cE 'Data for node: node0[12][[:space:]].*Num procs: 2' "$WORK/hosts.out")" -ge 2
trained_to_end() { grep -q "^start: .*, $RANKS rank(s)" "$1/log.txt" && grep -q "^done:" "$1/log.txt"; }
check "the two-host run trained with $RANKS ranks to the end" trained_to_end "$WORK/hosts"
check "both runs end at the same checkpoint ($(basename "$local_final"))" \
  test -n "$hosts_final" -a "$(basename "$hosts_final")" = "$(basename "$local_final")"
check "final G, D and Gs on two hosts equal those on one host bit for bit" same_weights "$hosts_final" "$local_final"

summary
