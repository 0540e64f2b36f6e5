#!/bin/sh
# A one-node Slurm cluster on this machine for the tests: munged, slurmctld and slurmd with a generated
# slurm.conf, everything (sockets, state, logs) under one folder.
#   tests/slurm/cluster.sh start DIR   starts it; prints "export SLURM_CONF=DIR/slurm.conf" on success
#   tests/slurm/cluster.sh stop DIR    stops the daemons it started (by their pid files)
# Exit 0: up (the node is idle); 77: cannot run here (no packages, not root, a daemon does not start),
# with the reason on stderr; other codes: a real failure.
set -u
cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: cluster.sh start|stop DIR" >&2; exit 2; }

skip() { echo "slurm cluster: cannot run here: $*" >&2; exit 77; }

stop_daemons() {
  for p in slurmd slurmctld munged; do
    f="$dir/$p.pid"
    [ -f "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    i=0
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -f "$f"
  done
}

if [ "$cmd" = stop ]; then stop_daemons; exit 0; fi
[ "$cmd" = start ] || { echo "cluster.sh: unknown command '$cmd'" >&2; exit 2; }

[ "$(id -u)" = 0 ] || skip "slurmd must run as root (uid $(id -u))"
for b in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || skip "'$b' is missing (install with: sh tools/install-deps.sh --slurm)"
done
PATH="$PATH:/usr/sbin"

mkdir -p "$dir/munge" "$dir/ctld" "$dir/spool" || exit 1
chmod 700 "$dir/munge"
host=$(hostname -s)
# Ports from the pid, so that two test runs on one machine do not meet.
base=$((20000 + ($$ % 2000) * 2))

# munge: a fresh key, its own socket.
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed" \
  || skip "munged does not start (see $dir/munged.log)"

cat > "$dir/slurm.conf" <<CONF
ClusterName=lratest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
SwitchType=switch/none
JobRequeue=1
ReturnToService=2
MinJobAge=300
KillWait=10
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -i || { stop_daemons; skip "slurmctld does not start (see $dir/slurmctld.log)"; }
slurmd || { stop_daemons; skip "slurmd does not start (see $dir/slurmd.log)"; }

# Wait (bounded) for the node to be idle.
i=0
until sinfo -h -N -o '%t' 2>/dev/null | grep -q '^idle'; do
  i=$((i + 1))
  if [ $i -gt 150 ]; then
    state=$(sinfo -h -N -o '%t %E' 2>&1)
    stop_daemons
    skip "the node did not become idle within 30 s (sinfo: $state; logs in $dir)"
  fi
  sleep 0.2
done
echo "export SLURM_CONF=$dir/slurm.conf"
