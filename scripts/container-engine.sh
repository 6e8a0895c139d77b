#!/usr/bin/env bash
# Container engine for tests and CI on a Debian host without systemd: Debian's docker.io, dockerd started by hand.
# See /work/shared/notes/container-engine.md (why these flags, and the pitfalls) and docs/jobs-docker.md.
#
#   container-engine.sh start                 install docker.io + busybox-static if missing, start dockerd,
#                                             wait for _ping (≤ CE_TIMEOUT s), print the socket path on stdout
#   container-engine.sh busybox-image [TAG]   import a busybox rootfs as TAG (default fleetml/busybox:latest)
#   container-engine.sh status                "running pid=… socket=…" (exit 0) or "stopped" (exit 3)
#   container-engine.sh stop                  SIGTERM dockerd, wait ≤ CE_STOP_TIMEOUT s, then SIGKILL what is left
#
# Every command is idempotent: `start` on a running engine only prints the socket; `busybox-image` skips an
# image that is already there (CE_FORCE=1 re-imports); `stop` on a stopped engine does nothing.
#
# Knobs (defaults in one place, below): CE_SOCK, CE_DATA_ROOT, CE_EXEC_ROOT, CE_PIDFILE, CE_LOG,
# CE_NETWORK=bridge|none, CE_STORAGE_DRIVER, CE_TIMEOUT, CE_STOP_TIMEOUT, CE_PACKAGES, CE_EXTRA_ARGS (e.g. --live-restore).
# Diagnostics go to stderr; stdout carries only the socket path (start) so `$(…)` can capture it.
set -euo pipefail

default_sock=/var/run/docker.sock
if [[ "${DOCKER_HOST:-}" == unix://* ]]; then default_sock="${DOCKER_HOST#unix://}"; fi
CE_SOCK="${CE_SOCK:-$default_sock}"
CE_DATA_ROOT="${CE_DATA_ROOT:-/var/lib/docker}"
CE_EXEC_ROOT="${CE_EXEC_ROOT:-/var/run/docker}"
CE_PIDFILE="${CE_PIDFILE:-/var/run/docker.pid}"
CE_LOG="${CE_LOG:-/var/log/fleetml-dockerd.log}"
CE_NETWORK="${CE_NETWORK:-bridge}"
CE_STORAGE_DRIVER="${CE_STORAGE_DRIVER:-}"
CE_TIMEOUT="${CE_TIMEOUT:-60}"
CE_STOP_TIMEOUT="${CE_STOP_TIMEOUT:-40}"
CE_PACKAGES="${CE_PACKAGES:-docker.io busybox-static}"
CE_EXTRA_ARGS="${CE_EXTRA_ARGS:-}"
DEFAULT_TAG=fleetml/busybox:latest

log() { echo "container-engine: $*" >&2; }
die() { log "$*"; exit 1; }

# A pid is alive when /proc has it and it is not a zombie: this VM's init reaps orphans only every ~2 s, and a
# zombie containerd behind a stale containerd.pid makes the next dockerd wait 15 s and fail (note, error 2).
alive() {
  local pid="$1" st
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/stat" ] || return 1
  st="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

pid_of() { [ -s "$1" ] && tr -dc '0-9' <"$1" || true; }

ping_ok() { curl -sf --max-time 2 --unix-socket "$CE_SOCK" http://localhost/_ping 2>/dev/null | grep -q OK; }

ensure_packages() {
  local missing=() p
  for p in $CE_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}) and not root: install them or run as root"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Without systemd the postinst would try to start docker through invoke-rc.d: forbid it for the install.
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  local rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 || rc=$?
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install ${missing[*]} failed (exit $rc)"
}

# Remove what a dead daemon left behind: pidfile, socket, containerd.pid (zombie-aware).
clean_stale() {
  local pid cpid cpidfile="$CE_EXEC_ROOT/containerd/containerd.pid"
  pid="$(pid_of "$CE_PIDFILE")"
  if [ -e "$CE_PIDFILE" ] && ! alive "$pid"; then log "removing stale $CE_PIDFILE (pid ${pid:-?})"; rm -f "$CE_PIDFILE"; fi
  cpid="$(pid_of "$cpidfile")"
  if [ -e "$cpidfile" ]; then
    if alive "$cpid"; then
      # A containerd without its dockerd (dockerd was SIGKILLed): dockerd would refuse to start beside it.
      if ! alive "$pid"; then log "killing orphan containerd $cpid"; kill -KILL "$cpid" 2>/dev/null || true; sleep 0.2; fi
    fi
    alive "$cpid" || { log "removing stale $cpidfile"; rm -f "$cpidfile"; }
  fi
  if [ -S "$CE_SOCK" ] && ! alive "$pid"; then log "removing stale socket $CE_SOCK"; rm -f "$CE_SOCK"; fi
}

cmd_start() {
  if ping_ok; then echo "$CE_SOCK"; return 0; fi
  ensure_packages
  command -v dockerd >/dev/null || die "dockerd not found after install"
  local pid
  pid="$(pid_of "$CE_PIDFILE")"
  if ! alive "$pid"; then
    clean_stale
    local args=(--data-root "$CE_DATA_ROOT" --exec-root "$CE_EXEC_ROOT" --pidfile "$CE_PIDFILE" -H "unix://$CE_SOCK")
    [ "$CE_NETWORK" = none ] && args+=(--bridge=none --iptables=false --ip-masq=false)
    [ "$CE_NETWORK" = none ] || [ "$CE_NETWORK" = bridge ] || die "CE_NETWORK must be bridge or none (got $CE_NETWORK)"
    [ -n "$CE_STORAGE_DRIVER" ] && args+=(--storage-driver="$CE_STORAGE_DRIVER")
    # shellcheck disable=SC2206 # CE_EXTRA_ARGS is a list of flags on purpose
    [ -n "$CE_EXTRA_ARGS" ] && args+=($CE_EXTRA_ARGS)
    mkdir -p "$(dirname "$CE_LOG")" "$(dirname "$CE_SOCK")"
    log "starting dockerd ${args[*]} (log: $CE_LOG)"
    # setsid: dockerd outlives this shell; all three stdio redirected: otherwise `$(… start)` never returns
    # because dockerd and its containerd keep the pipe open.
    setsid /usr/sbin/dockerd "${args[@]}" </dev/null >>"$CE_LOG" 2>&1 &
    pid=$!
  else
    log "dockerd $pid is running but does not answer yet; waiting"
  fi
  local deadline=$((SECONDS + CE_TIMEOUT))
  until ping_ok; do
    if ! alive "$pid" && ! alive "$(pid_of "$CE_PIDFILE")"; then
      log "dockerd exited; last 40 log lines:"; tail -n 40 "$CE_LOG" >&2 || true; exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "dockerd did not answer on $CE_SOCK within ${CE_TIMEOUT}s; last 40 log lines:"; tail -n 40 "$CE_LOG" >&2 || true; exit 1
    fi
    sleep 0.2
  done
  echo "$CE_SOCK"
}

# Processes that belong to this exec root's containers: shims (their command line names our containerd socket)
# and container processes (cgroup v1 cgroupfs: /docker/<64 hex>).
leftover_pids() {
  local p
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [ "$p" = $$ ] && continue
    if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "containerd-shim.*$CE_EXEC_ROOT/containerd/containerd.sock"; then echo "$p"; continue; fi
    grep -qE ':/docker/[0-9a-f]{64}$' "/proc/$p/cgroup" 2>/dev/null && echo "$p"
  done
  return 0
}

cmd_stop() {
  local pid cpid i
  pid="$(pid_of "$CE_PIDFILE")"
  cpid="$(pid_of "$CE_EXEC_ROOT/containerd/containerd.pid")"
  if alive "$pid"; then
    log "stopping dockerd $pid (≤ ${CE_STOP_TIMEOUT}s: it stops containers first)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < CE_STOP_TIMEOUT * 5; i++)); do alive "$pid" || break; sleep 0.2; done
    if alive "$pid"; then log "dockerd $pid still running: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  if alive "$cpid"; then kill -KILL "$cpid" 2>/dev/null || true; fi
  if [[ " $CE_EXTRA_ARGS " != *" --live-restore "* ]]; then
    local left
    left="$(leftover_pids | tr '\n' ' ')"
    if [ -n "${left// /}" ]; then log "killing leftover shims/containers: $left"; kill -KILL $left 2>/dev/null || true; fi
  fi
  rm -f "$CE_PIDFILE"
  [ -S "$CE_SOCK" ] && ! ping_ok && rm -f "$CE_SOCK"
  return 0
}

cmd_status() {
  local pid
  pid="$(pid_of "$CE_PIDFILE")"
  if ping_ok; then echo "running pid=${pid:-?} socket=$CE_SOCK"; return 0; fi
  if alive "$pid"; then echo "starting pid=$pid socket=$CE_SOCK (no _ping answer yet)"; return 3; fi
  echo "stopped"; return 3
}

urlencode() {
  local s="$1" out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in [A-Za-z0-9._~-]) out+="$c" ;; *) out+="$(printf '%%%02X' "'$c")" ;; esac
  done
  printf '%s' "$out"
}

# Imports a busybox rootfs through the Engine API (POST /images/create?fromSrc=-): no builder, no registry, and
# no dependence on whichever docker CLI comes first on PATH.
cmd_busybox_image() {
  local tag="${1:-$DEFAULT_TAG}" repo name_tag
  repo="${tag%:*}"; name_tag="${tag##*:}"
  [ "$repo" = "$tag" ] && name_tag=latest
  ping_ok || die "no engine answers on $CE_SOCK: run '$0 start' first"
  if [ "${CE_FORCE:-0}" != 1 ] && curl -sf --unix-socket "$CE_SOCK" "http://localhost/images/$(urlencode "$repo:$name_tag")/json" >/dev/null 2>&1; then
    log "image $repo:$name_tag is already present"; return 0
  fi
  local bb=''
  for bb in /bin/busybox /usr/bin/busybox ''; do [ -n "$bb" ] && [ -x "$bb" ] && break; done
  [ -n "$bb" ] || { CE_PACKAGES=busybox-static ensure_packages; bb=/bin/busybox; }
  # The dynamic busybox package would not run in an empty rootfs.
  if command -v ldd >/dev/null && ldd "$bb" >/dev/null 2>&1; then
    CE_PACKAGES=busybox-static ensure_packages
    ldd "$bb" >/dev/null 2>&1 && die "$bb is not static: install busybox-static"
  fi
  local dir a
  dir="$(mktemp -d)"
  trap 'rm -rf "$dir"' RETURN
  mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp" "$dir/rootfs/root" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev"
  chmod 1777 "$dir/rootfs/tmp"
  cp "$bb" "$dir/rootfs/bin/busybox"
  for a in $("$bb" --list); do [ "$a" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/rootfs/etc/passwd"
  echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$dir/rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/rootfs/etc/group"
  local q
  q="fromSrc=-&repo=$(urlencode "$repo")&tag=$(urlencode "$name_tag")"
  q+="&changes=$(urlencode 'ENV PATH=/bin')&changes=$(urlencode 'CMD ["/bin/sh"]')"
  local out
  out="$(tar --numeric-owner --owner=0 --group=0 -C "$dir/rootfs" -c . |
    curl -sS --fail-with-body --unix-socket "$CE_SOCK" -X POST -H 'Content-Type: application/x-tar' \
      --data-binary @- "http://localhost/images/create?$q")" || die "import failed: $out"
  if grep -q '"error' <<<"$out"; then die "import failed: $out"; fi
  log "imported $repo:$name_tag"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  busybox-image) cmd_busybox_image "${2:-}" ;;
  *) echo "usage: $0 start|stop|status|busybox-image [TAG]" >&2; exit 2 ;;
esac
