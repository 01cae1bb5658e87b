#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying `apg-bench study run --slurm`
# and for its test: installs Debian's slurm-wlm and munge when missing (needs root),
# writes a slurm.conf with this host's name, CPUs and memory, and starts munged,
# slurmctld and slurmd. Idempotent: a running cluster is left as it is.
#
#   scripts/slurm-local.sh          start (or check) the cluster
#   scripts/slurm-local.sh stop     stop its daemons
#   scripts/slurm-local.sh status   say whether it runs
#
# Exits 0 once `sinfo` shows the node up; otherwise says why and exits 1.
set -euo pipefail

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
STATE=/var/spool/slurm-local
LOGS=/var/log/slurm-local
# The marker that says this script wrote the slurm.conf (it never touches another).
MARK="# Written by apg-bench scripts/slurm-local.sh"

say() { echo "slurm-local: $*" >&2; }

node_up() {
  command -v sinfo >/dev/null 2>&1 || return 1
  local state
  state=$(timeout 10 sinfo -h -N -o "%T" 2>/dev/null | head -n1) || return 1
  # A trailing `*` means the node does not respond: its slurmd is gone.
  [[ "$state" == idle || "$state" == mixed || "$state" == allocated || "$state" == completing ]]
}

stop() {
  # Slurm's own way first (slurmctld and its slurmd), then the pid files this cluster's
  # daemons were told to write, for a daemon that did not answer.
  if [[ -f "$CONF" ]] && grep -qF "$MARK" "$CONF" && command -v scontrol >/dev/null 2>&1; then
    timeout 10 scontrol shutdown >/dev/null 2>&1 && sleep 1 && say "shut the cluster down"
  fi
  for daemon in slurmd slurmctld; do
    local pidfile="$STATE/$daemon.pid"
    if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      kill "$(cat "$pidfile")" && say "stopped $daemon"
    fi
    rm -f "$pidfile"
  done
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  status)
    if node_up; then say "up: $(sinfo -h -N -o '%N %T %c CPUs %m MB')"; exit 0; fi
    say "not running"; exit 1 ;;
  start) ;;
  *) say "usage: $0 [start|stop|status]"; exit 2 ;;
esac

if node_up; then
  say "already up: $(sinfo -h -N -o '%N %T %c CPUs %m MB')"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  say "needs root (to install slurm-wlm and munge and start their daemons)"
  exit 1
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  say "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if ! (apt-get update -qq && apt-get install -y -qq slurm-wlm munge) >"/tmp/slurm-local-apt.log" 2>&1; then
    say "apt-get could not install slurm-wlm and munge: see /tmp/slurm-local-apt.log"
    exit 1
  fi
fi

# munge: a key, then the daemon (its own pid file tells whether it runs).
if [[ ! -s /etc/munge/munge.key ]]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
if ! munge -n >/dev/null 2>&1; then
  if id munge >/dev/null 2>&1; then
    su -s /bin/sh munge -c "munged --force" || runuser -u munge -- munged --force
  else
    munged --force
  fi
  sleep 1
fi
if ! munge -n >/dev/null 2>&1; then
  say "munged does not answer (munge -n fails); see /var/log/munge/munged.log"
  exit 1
fi

host=$(hostname -s)
cpus=$(nproc)
# slurmd refuses a node whose RealMemory exceeds what it sees: leave some room.
memory=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" "$LOGS"
if [[ -f "$CONF" ]] && ! grep -qF "$MARK" "$CONF"; then
  say "$CONF exists and was not written by this script: leaving it alone"
  exit 1
fi
cat >"$CONF" <<EOF
$MARK: a one-node cluster on $host.
ClusterName=apg-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MaxArraySize=10001
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

stop
slurmctld -f "$CONF" || { say "slurmctld did not start; see $LOGS/slurmctld.log"; exit 1; }
slurmd -f "$CONF" || { say "slurmd did not start; see $LOGS/slurmd.log"; exit 1; }

for _ in $(seq 1 30); do
  if node_up; then
    say "up: $(sinfo -h -N -o '%N %T %c CPUs %m MB')"
    exit 0
  fi
  sleep 1
done
say "the node did not come up within 30 s: $(sinfo -h -N -o '%N %T %E' 2>&1 | head -n1); see $LOGS"
exit 1
