#!/usr/bin/env bash
# A single-node Slurm on this machine, for tests/test_slurm.py: `.ci/slurm.sh` installs (Debian's
# slurm-wlm and munge), configures and starts munged, slurmctld and slurmd on localhost, and waits
# until the node is idle; daemons already running with another configuration are restarted, so
# that they read this one. `.ci/slurm.sh stop` stops the daemons it started, by their pid files;
# `.ci/slurm.sh restart` stops slurmctld and slurmd, then starts them again.
# Run as root. Starting takes seconds once the packages are installed (about a minute).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
PIDS="/run/munge/munged.pid /run/slurmctld.pid /run/slurmd.pid"

stop() {  # the daemons of the given pid files, waiting (up to 20 s) until they have exited
    local pidfile pid
    for pidfile in "$@"; do
        if [ -s "$pidfile" ]; then
            pid=$(cat "$pidfile")
            kill "$pid" 2>/dev/null || continue
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        fi
    done
}

case "${1:-start}" in
    stop) stop $PIDS; exit 0 ;;
    restart) stop /run/slurmctld.pid /run/slurmd.pid ;;
esac

if ! command -v sbatch >/dev/null || ! command -v munged >/dev/null || ! command -v pgrep >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge procps >/dev/null
fi

# munge authenticates slurmctld, slurmd and the commands to each other: one shared key.
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
if ! pgrep -u munge -x munged >/dev/null; then
    su -s /bin/sh munge -c /usr/sbin/munged
fi

# No cgroups and no accounting database: linuxproc tracks a job's processes, and submitit reads
# results from its own files (it warns that sacct is unavailable and goes on).
CPUS=$(nproc)
MEMORY=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
NEW_CONF=$(mktemp)
# AuthInfo and SchedulerParameters are a test cluster's timing: a requeued job may start again
# after cred_expire seconds (Slurm's default 120), and pending jobs are looked at every second
# (sched_interval, bf_interval: 60 and 30 by default), so that a requeue takes seconds, not minutes.
cat > "$NEW_CONF" <<EOF
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
AuthInfo=cred_expire=5
SchedulerParameters=sched_interval=1,bf_interval=1
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=localhost CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
if ! cmp -s "$NEW_CONF" "$CONF"; then  # daemons that read another configuration: restarted
    stop /run/slurmctld.pid /run/slurmd.pid
    mv "$NEW_CONF" "$CONF"
    chmod 0644 "$CONF"
else
    rm -f "$NEW_CONF"
fi

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd -N localhost  # the node's name in the conf, not the host's

for _ in $(seq 60); do
    state=$(sinfo -h -N -o %T 2>/dev/null | head -1) || state=""
    case "$state" in
        idle*|mixed*|allocated*) echo "slurm: node localhost $state"; exit 0 ;;
        down*|drain*) scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
    esac
    sleep 1
done
echo "slurm: the node did not become idle (sinfo: ${state:-no answer}); see /var/log/slurm/" >&2
exit 1
