#!/usr/bin/env bash
# A stand-in for ssh that Open MPI's rsh launcher can use to "log in" to a host that is really a
# network namespace on this machine (see cluster/tests/netns_hostfile_test.sh):
#
#   mpirun --mca plm_rsh_agent /path/to/cluster/netns-rsh.sh --hostfile hostfiles/two-nodes ...
#
# Host NAME runs in namespace $NETNS_PREFIX$NAME, with its own hostname NAME (a UTS namespace), so
# that Open MPI sees separate nodes with separate session directories. Like ssh, it joins its
# arguments into one command line for a shell.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 HOST COMMAND... (host HOST is namespace \$NETNS_PREFIX\$HOST)" >&2
  exit 2
fi
host=$1; shift
ns=${NETNS_PREFIX:-}$host
if [ ! -e "/run/netns/$ns" ]; then   # where ip netns keeps its names
  echo "netns-rsh: no network namespace '$ns' for host '$host'" >&2
  exit 255   # what ssh returns when it cannot reach a host
fi
exec ip netns exec "$ns" unshare --uts sh -c 'hostname "$1" && shift && exec sh -c "$*"' netns-rsh "$host" "$@"
