#!/usr/bin/env bash
# A one-node Slurm cluster for tests, CI and the demo, on a Debian host without systemd: Debian's slurm-wlm
# (slurmctld + slurmd) with munge, started by hand. See docs/slurm.md ("A test cluster").
#
#   slurm-cluster.sh start    install slurm-wlm + munge if missing, write the configuration (if it is ours or
#                             absent), start munged, slurmctld and slurmd, wait until the node is idle (≤ SC_TIMEOUT s)
#   slurm-cluster.sh status   "running node=… gpus=… memory=…" (exit 0) or "stopped" (exit 3)
#   slurm-cluster.sh stop     stop slurmd, slurmctld and the munged this script started; idempotent
#
# The node declares SC_GPUS GPUs as GRES (gres.conf `Name=gpu File=…`), backed by fake device files: character
# devices with /dev/null's numbers under $SC_STATE/dev, so Slurm accepts, counts and binds GPU requests
# (`--gpus=N`, `--gres=gpu:N`, CUDA_VISIBLE_DEVICES in the job) on a machine without GPUs. Where mknod is not
# allowed, the GRES is declared by count only (scheduling works, CUDA_VISIBLE_DEVICES is not set).
# Memory limits are enforced by task/cgroup (cgroup v1 or v2, whichever the host has: OUT_OF_MEMORY); where
# cgroups cannot be used it falls back to jobacct_gather's OverMemoryKill (the job fails, Slurm logs "Exceeded job
# memory limit" to its stderr). Accounting storage is off (no slurmdbd): finished jobs are read with `scontrol`
# for MinJobAge (1 h here), as on a site without accounting.
#
# The node declares SC_CPUS CPUs and SC_MEMORY_MB of memory whatever the host has (SlurmdParameters=config_overrides),
# so that several test jobs run at once on a small machine.
#
# Knobs: SC_CONF_DIR (/etc/slurm), SC_STATE (/var/lib/fleetml-slurm), SC_GPUS (2), SC_MEMORY_MB (8192),
# SC_CPUS (8), SC_TIMEOUT (60), SC_PACKAGES. Diagnostics go to stderr.
set -euo pipefail

SC_CONF_DIR="${SC_CONF_DIR:-/etc/slurm}"
SC_STATE="${SC_STATE:-/var/lib/fleetml-slurm}"
SC_GPUS="${SC_GPUS:-2}"
SC_MEMORY_MB="${SC_MEMORY_MB:-8192}"
SC_CPUS="${SC_CPUS:-8}"
SC_TIMEOUT="${SC_TIMEOUT:-60}"
SC_PACKAGES="${SC_PACKAGES:-slurm-wlm munge}"
MARKER='# written by fleetml scripts/slurm-cluster.sh'
RUN="$SC_STATE/run"
LOGS="$SC_STATE/log"
NODE="$(hostname -s)"

log() { echo "slurm-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

alive() { local pid="$1"; [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/stat" ] && ! sed 's/^.*) //' "/proc/$pid/stat" | grep -q '^[ZX]'; }
pid_of() { [ -s "$1" ] && tr -dc '0-9' <"$1" || true; }

ensure_packages() {
  local missing=() p
  for p in $SC_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}) and not root: install them or run as root"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Without systemd the postinst scripts would try to start the daemons through invoke-rc.d: forbid it.
  local made_policy=0 rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1; fi
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 || rc=$?
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install ${missing[*]} failed (exit $rc)"
}

# $1: cgroup|linuxproc
write_config() {
  local track="$1" conf="$SC_CONF_DIR/slurm.conf"
  if [ -e "$conf" ] && ! grep -qF "$MARKER" "$conf"; then
    die "$conf exists and was not written by this script: refusing to overwrite a real cluster's configuration (set SC_CONF_DIR)"
  fi
  mkdir -p "$SC_CONF_DIR" "$SC_STATE/ctld" "$SC_STATE/d" "$RUN" "$LOGS" "$SC_STATE/dev"
  local gres="gpu:$SC_GPUS" files=1 i
  for ((i = 0; i < SC_GPUS; i++)); do
    [ -c "$SC_STATE/dev/gpu$i" ] && continue
    rm -f "$SC_STATE/dev/gpu$i"
    mknod "$SC_STATE/dev/gpu$i" c 1 3 2>/dev/null || { files=0; break; }
  done
  if [ "$files" = 1 ] && [ "$SC_GPUS" -gt 0 ]; then
    printf '%s\nName=gpu File=%s/dev/gpu[0-%d]\n' "$MARKER" "$SC_STATE" "$((SC_GPUS - 1))" >"$SC_CONF_DIR/gres.conf"
  else
    [ "$SC_GPUS" -gt 0 ] && log "mknod not allowed: GPUs declared by count only (no CUDA_VISIBLE_DEVICES in jobs)"
    printf '%s\nName=gpu Count=%d\n' "$MARKER" "$SC_GPUS" >"$SC_CONF_DIR/gres.conf"
  fi
  local proctrack=proctrack/linuxproc task=task/none acct_params='JobAcctGatherParams=OverMemoryKill'
  if [ "$track" = cgroup ]; then
    proctrack=proctrack/cgroup task=task/cgroup acct_params=''
    local plugin=cgroup/v1
    [ -f /sys/fs/cgroup/cgroup.controllers ] && plugin=cgroup/v2
    printf '%s\nCgroupPlugin=%s\nCgroupAutomount=no\nConstrainRAMSpace=yes\nConstrainSwapSpace=no\n' "$MARKER" "$plugin" >"$SC_CONF_DIR/cgroup.conf"
  fi
  cat >"$conf" <<EOF
$MARKER
# A one-node test cluster (docs/slurm.md). Daemons run as root, started by hand (no systemd).
ClusterName=fleetml
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$SC_STATE/ctld
SlurmdSpoolDir=$SC_STATE/d
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=$proctrack
TaskPlugin=$task
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
$acct_params
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
GresTypes=gpu
MinJobAge=3600
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MpiDefault=none
SlurmdParameters=config_overrides
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$SC_CPUS RealMemory=$SC_MEMORY_MB Gres=gpu:$SC_GPUS State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
  [ -s /etc/munge/munge.key ] || { log "creating /etc/munge/munge.key"; mungekey --create --force >&2 || /usr/sbin/create-munge-key -f >&2; chown munge:munge /etc/munge/munge.key; }
  mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
  rm -f /run/munge/munge.socket.2.lock
  if id munge >/dev/null 2>&1; then su -s /bin/sh munge -c '/usr/sbin/munged' >&2; else /usr/sbin/munged --force >&2; fi
  for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && { echo munged >"$RUN/munge.ours"; return 0; }; sleep 0.1; done
  die "munged did not start (see /var/log/munge/munged.log)"
}

node_state() { sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -1 || true; }

stop_daemons() {
  local d pid
  scontrol shutdown >/dev/null 2>&1 || true
  for d in slurmd slurmctld; do
    pid="$(pid_of "$RUN/$d.pid")"
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$RUN/$d.pid"
  done
}

# $1: cgroup|linuxproc. Returns 1 when slurmd does not come up.
start_daemons() {
  write_config "$1"
  alive "$(pid_of "$RUN/slurmctld.pid")" || slurmctld >&2
  alive "$(pid_of "$RUN/slurmd.pid")" || slurmd >&2 || return 1
  local st
  for _ in $(seq 1 $((SC_TIMEOUT * 5))); do
    st="$(node_state)"
    case "$st" in idle|mixed|allocated|completing) return 0 ;; down*|drain*|fail*) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;; esac
    alive "$(pid_of "$RUN/slurmd.pid")" || return 1
    sleep 0.2
  done
  return 1
}

cmd_start() {
  ensure_packages
  mkdir -p "$RUN" "$LOGS"
  start_munge
  local st; st="$(node_state)"
  if alive "$(pid_of "$RUN/slurmctld.pid")" && alive "$(pid_of "$RUN/slurmd.pid")" && [[ "$st" =~ ^(idle|mixed|allocated|completing)$ ]]; then
    log "already running (node $NODE $st)"; return 0
  fi
  if ! start_daemons cgroup; then
    log "slurmd did not start with task/cgroup ($(tail -1 "$LOGS/slurmd.log" 2>/dev/null)); falling back to proctrack/linuxproc + OverMemoryKill"
    stop_daemons
    start_daemons linuxproc || die "the node did not become idle in $SC_TIMEOUT s (see $LOGS/slurmctld.log, $LOGS/slurmd.log)"
  fi
  log "running: node $NODE, $SC_CPUS CPUs, $SC_MEMORY_MB MB, $SC_GPUS GPUs, partition debug"
}

cmd_status() {
  local st; st="$(node_state)"
  if alive "$(pid_of "$RUN/slurmctld.pid")" && alive "$(pid_of "$RUN/slurmd.pid")" && [ -n "$st" ]; then
    echo "running node=$NODE state=$st gpus=$SC_GPUS conf=$SC_CONF_DIR/slurm.conf"
  else
    echo stopped; exit 3
  fi
}

cmd_stop() {
  stop_daemons
  if [ -e "$RUN/munge.ours" ]; then
    pkill -x munged 2>/dev/null || true
    rm -f "$RUN/munge.ours"
  fi
  log "stopped"
}

case "${1:-}" in
  start) cmd_start ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  *) echo "usage: $0 start|status|stop" >&2; exit 2 ;;
esac
