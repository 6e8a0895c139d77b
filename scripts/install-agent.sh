#!/usr/bin/env bash
# Install (or upgrade) the fleetml node agent on this machine from a BUILT checkout.
#
#   git clone … fleetml && cd fleetml
#   npm ci && npm run build          # once, on this node or one with the same OS/arch/Node major
#   sudo scripts/install-agent.sh    # works offline from here on
#
# GPU nodes that will serve ONNX models on the GPU: opt into the CUDA build of onnxruntime in the
# checkout BEFORE installing (package.json's allowScripts does not run that download by default):
#   ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js
# (node_modules is copied as it is; this script downloads nothing).
#
# What it does (idempotent: re-running upgrades the code and keeps config and tokens):
#   1. checks node >= 20 and that the checkout is built (dist/ + node_modules/)
#   2. copies dist/, package.json, package-lock.json, node_modules/ into PREFIX (staged, then
#      swapped), prunes dev dependencies offline, links BIN_DIR/fleetml
#   3. creates the system user "fleetml" and adds it to the docker / video groups when they exist
#      (docker group = root-equivalent: see docs/operations.md; FLEETML_NO_DOCKER_GROUP=1 skips it),
#      and the system user "fleetml-job" that process jobs run as (never the agent's own user: a job
#      must not read the agent's tokens or database; see docs/security.md)
#   4. writes CONFIG_DIR/agent.yaml only if it does not exist
#   5. installs the systemd unit into SYSTEMD_DIR (+ a drop-in when STATE_DIR is not the default)
#   6. creates the first admin token (as the fleetml user) unless one exists, prints it ONCE
#   7. systemctl daemon-reload, enable, start (or restart on upgrade) when systemd is PID 1
#
# Options (flag or environment variable):
#   --prefix DIR       PREFIX=/opt/fleetml            where the code goes
#   --config-dir DIR   CONFIG_DIR=/etc/fleetml        agent.yaml (+ TLS files)
#   --state-dir DIR    STATE_DIR=/var/lib/fleetml     database, admin.token
#   --systemd-dir DIR  SYSTEMD_DIR=/etc/systemd/system
#   --bin-dir DIR      BIN_DIR=/usr/local/bin         "fleetml" symlink
#   --no-start         NO_START=1                     install and enable nothing; print the commands
#   --no-system        FLEETML_INSTALL_NO_SYSTEM=1    no root needed: no useradd, no chown, no
#                                                     systemctl; files owned by the current user
#                                                     (for tests and trying it out in a temp dir)
#                      NODE=/path/to/node             node binary (default: node on PATH)
#                      FLEETML_SOURCE=DIR             built checkout (default: this script's ../)
#                      FLEETML_USER=fleetml           service user
set -euo pipefail

PREFIX=${PREFIX:-/opt/fleetml}
CONFIG_DIR=${CONFIG_DIR:-/etc/fleetml}
STATE_DIR=${STATE_DIR:-/var/lib/fleetml}
SYSTEMD_DIR=${SYSTEMD_DIR:-/etc/systemd/system}
BIN_DIR=${BIN_DIR:-/usr/local/bin}
NO_START=${NO_START:-0}
NO_SYSTEM=${FLEETML_INSTALL_NO_SYSTEM:-0}
SVC_USER=${FLEETML_USER:-fleetml}
JOB_USER=${FLEETML_JOB_USER:-fleetml-job}
UNIT=fleetml-agent.service

die() { echo "install-agent: error: $*" >&2; exit 1; }
say() { echo "install-agent: $*"; }
warn() { echo "install-agent: warning: $*" >&2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --config-dir) CONFIG_DIR=${2:?--config-dir needs a directory}; shift 2 ;;
    --state-dir) STATE_DIR=${2:?--state-dir needs a directory}; shift 2 ;;
    --systemd-dir) SYSTEMD_DIR=${2:?--systemd-dir needs a directory}; shift 2 ;;
    --bin-dir) BIN_DIR=${2:?--bin-dir needs a directory}; shift 2 ;;
    --no-start) NO_START=1; shift ;;
    --no-system) NO_SYSTEM=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

for v in PREFIX CONFIG_DIR STATE_DIR SYSTEMD_DIR BIN_DIR; do
  case "${!v}" in /*) ;; *) die "$v must be an absolute path, got '${!v}'" ;; esac
done
PREFIX=${PREFIX%/}; CONFIG_DIR=${CONFIG_DIR%/}; STATE_DIR=${STATE_DIR%/}
CONFIG_FILE=$CONFIG_DIR/agent.yaml

SRC=${FLEETML_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SRC=$(cd "$SRC" 2>/dev/null && pwd) || die "FLEETML_SOURCE '${FLEETML_SOURCE:-}' is not a directory"

# ---- 1. checks ------------------------------------------------------------------------------
if [ "$NO_SYSTEM" != 1 ] && [ "$(id -u)" != 0 ]; then
  die "run as root (sudo $0), or with --no-system for a user-owned install without systemd"
fi

NODE=${NODE:-$(command -v node || true)}
[ -n "$NODE" ] || die "node not found on PATH: install Node.js 20 or newer (or set NODE=/path/to/node)"
NODE_VERSION=$("$NODE" --version 2>/dev/null || true)
NODE_MAJOR=${NODE_VERSION#v}; NODE_MAJOR=${NODE_MAJOR%%.*}
case "$NODE_MAJOR" in ''|*[!0-9]*) die "cannot run '$NODE --version' (got '$NODE_VERSION')" ;; esac
[ "$NODE_MAJOR" -ge 20 ] || die "Node.js >= 20 is required, $NODE is $NODE_VERSION"
NODE=$(cd "$(dirname "$NODE")" && pwd -P)/$(basename "$NODE")
if [ "$NO_SYSTEM" != 1 ]; then
  case "$NODE" in /home/*|/root/*) die "node is at $NODE: the unit has ProtectHome=yes and cannot run it; install a system-wide node (e.g. /usr/bin/node, /usr/local/bin/node) or set NODE=" ;; esac
fi

[ -f "$SRC/dist/bin/fleetml.js" ] || die "$SRC is not built (no dist/bin/fleetml.js): run 'npm ci && npm run build' in $SRC first"
[ -d "$SRC/node_modules/better-sqlite3" ] || die "$SRC has no node_modules: run 'npm ci && npm run build' in $SRC first"
[ -f "$SRC/systemd/$UNIT" ] || die "missing $SRC/systemd/$UNIT"
case "$PREFIX/" in "$SRC/"*) die "PREFIX ($PREFIX) must not be inside the checkout ($SRC)" ;; esac
case "$SRC/" in "$PREFIX/"*) die "the checkout ($SRC) must not be inside PREFIX ($PREFIX): it is replaced on install" ;; esac

# run a command as the service user (cwd /, so a private cwd such as /root does not get in the way)
as_user() {
  if [ "$NO_SYSTEM" = 1 ]; then (cd / && "$@"); return; fi
  if command -v runuser >/dev/null; then (cd / && runuser -u "$SVC_USER" -- "$@")
  elif command -v setpriv >/dev/null; then (cd / && setpriv --reuid="$SVC_USER" --regid="$SVC_USER" --init-groups -- "$@")
  else die "neither runuser nor setpriv (util-linux) found: cannot run commands as $SVC_USER"
  fi
}
fleetml() { as_user "$NODE" "$PREFIX/dist/bin/fleetml.js" "$@"; }

# ---- 2. code ----------------------------------------------------------------------------------
mkdir -p "$(dirname "$PREFIX")"
STAGE=$(mktemp -d "$(dirname "$PREFIX")/.fleetml-install.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
say "copying $SRC -> $PREFIX"
cp -a "$SRC/dist" "$SRC/package.json" "$SRC/node_modules" "$STAGE/"
for f in package-lock.json README.md LICENSE systemd; do
  [ -e "$SRC/$f" ] && cp -a "$SRC/$f" "$STAGE/"
done
mkdir -p "$STAGE/scripts" && cp -a "$SRC/scripts/install-agent.sh" "$STAGE/scripts/"
# Drop dev dependencies (typescript, vitest, …) without the network and without lifecycle scripts.
if command -v npm >/dev/null && [ -f "$STAGE/package-lock.json" ]; then
  (cd "$STAGE" && npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund >/dev/null 2>&1) \
    || warn "npm prune failed; dev dependencies stay in $PREFIX/node_modules (harmless)"
fi
# Smoke test BEFORE swapping: the native modules (better-sqlite3) must load with this node.
SMOKE=$(mktemp -d)
if ! "$NODE" "$STAGE/dist/bin/fleetml.js" token list --data-dir "$SMOKE/data" >/dev/null 2>"$SMOKE/err"; then
  cat "$SMOKE/err" >&2; rm -rf "$SMOKE"
  die "the copied build does not run with $NODE ($NODE_VERSION): rebuild in $SRC with this node (npm ci && npm run build)"
fi
rm -rf "$SMOKE"
chmod 0755 "$STAGE"
[ "$NO_SYSTEM" = 1 ] || chown -R 0:0 "$STAGE"   # code is not writable by the service user
if [ -e "$PREFIX" ]; then
  OLD="$PREFIX.old.$$"
  mv "$PREFIX" "$OLD"; mv "$STAGE" "$PREFIX"; rm -rf "$OLD"
else
  mv "$STAGE" "$PREFIX"
fi
trap - EXIT
mkdir -p "$BIN_DIR"
ln -sfn "$PREFIX/dist/bin/fleetml.js" "$BIN_DIR/fleetml"
say "installed fleetml $("$NODE" "$PREFIX/dist/bin/fleetml.js" --version) in $PREFIX ($BIN_DIR/fleetml)"

# ---- 3. user and directories -----------------------------------------------------------------
if [ "$NO_SYSTEM" != 1 ]; then
  if ! getent passwd "$SVC_USER" >/dev/null; then
    NOLOGIN=$(command -v nologin || echo /usr/sbin/nologin)
    useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell "$NOLOGIN" \
      --comment "fleetml node agent" "$SVC_USER"
    say "created system user $SVC_USER"
  fi
  if ! getent passwd "$JOB_USER" >/dev/null; then
    NOLOGIN=$(command -v nologin || echo /usr/sbin/nologin)
    useradd --system --user-group --home-dir / --no-create-home --shell "$NOLOGIN" \
      --comment "fleetml process jobs" "$JOB_USER"
    say "created system user $JOB_USER (process jobs run as it)"
  fi
  for g in video render; do
    # process jobs that use a GPU open /dev/nvidia* (usually 0666; group video/render where not)
    if getent group "$g" >/dev/null && ! id -nG "$JOB_USER" | tr ' ' '\n' | grep -qx "$g"; then usermod -aG "$g" "$JOB_USER"; fi
  done
  for g in docker video render; do
    [ "$g" = docker ] && [ "${FLEETML_NO_DOCKER_GROUP:-0}" = 1 ] && continue
    if getent group "$g" >/dev/null && ! id -nG "$SVC_USER" | tr ' ' '\n' | grep -qx "$g"; then
      usermod -aG "$g" "$SVC_USER"
      say "added $SVC_USER to group $g$([ "$g" = docker ] && echo ' (docker socket access is root-equivalent)')"
    fi
  done
fi
mkdir -p "$CONFIG_DIR" "$STATE_DIR"
chmod 0700 "$STATE_DIR"
if [ "$NO_SYSTEM" != 1 ]; then
  chown -R "$SVC_USER:$SVC_USER" "$STATE_DIR"
  chmod 0755 "$CONFIG_DIR"
fi

# ---- 4. config (never overwritten) ---------------------------------------------------------------
if [ -e "$CONFIG_FILE" ]; then
  say "keeping existing $CONFIG_FILE"
else
  TMPCFG=$(mktemp "$CONFIG_DIR/.agent.yaml.XXXXXX")
  cat >"$TMPCFG" <<'YAML'
# fleetml agent configuration. Every option and its default: docs/config.md.
# Precedence: defaults < this file < FLEETML_* environment < command-line flags.
# After editing: systemctl restart fleetml-agent (a bad file makes the agent exit 78 and
# systemd does not restart it: journalctl -u fleetml-agent shows the offending key).

# API address. Loopback by default: reach it with an SSH tunnel
#   ssh -L 7070:127.0.0.1:7070 NODE
listen: 127.0.0.1:7070

# To serve the cluster on the LAN, listen on the node's LAN address and turn on TLS
# (PEM files readable by the fleetml user, e.g. root:fleetml 0640 in /etc/fleetml/tls/):
# listen: 10.0.0.12:7070
# tls:
#   cert: /etc/fleetml/tls/agent.crt
#   key: /etc/fleetml/tls/agent.key

# Node name shown in the cluster (default: the short host name).
# name: gpu-node-01

# Labels used by placement selectors.
# labels:
#   rack: r12
#   gpu: a100

# GPU telemetry: auto (NVML, then nvidia-smi), nvml, smi, sim, none.
# gpu:
#   source: auto

# Process jobs run as this user (created by the install script), never as the agent: a job of an
# operate token must not read the agent's tokens or database. The unit grants the agent
# CAP_SETUID/CAP_SETGID/CAP_KILL for that alone (docs/security.md).
jobs:
  process_user: @JOB_USER@

# Data directory: leave unset under systemd (it comes from StateDirectory=, /var/lib/fleetml).
# data_dir: /var/lib/fleetml

# log_level: info
YAML
  # --no-system creates no job user: process jobs then run as the installing user's agent (@agent)
  if [ "$NO_SYSTEM" = 1 ]; then sed -i 's#@JOB_USER@#null#' "$TMPCFG"; else sed -i "s#@JOB_USER@#$JOB_USER#" "$TMPCFG"; fi
  chmod 0640 "$TMPCFG"
  [ "$NO_SYSTEM" = 1 ] || chown "root:$SVC_USER" "$TMPCFG"
  mv "$TMPCFG" "$CONFIG_FILE"
  say "wrote $CONFIG_FILE"
fi

# Validate the config with the agent's own loader (the same check that exits 78 at start).
CONFIG_OK=1
if ! LISTEN_INFO=$(as_user "$NODE" --input-type=module -e '
  const { loadConfig } = await import(process.argv[1]);
  try { const c = loadConfig({ config: process.argv[2] }, {}); console.log(`${c.listen} ${c.tls ? "wss" : "ws"}`); }
  catch (e) { console.error(e.message); process.exit(78); }' "$PREFIX/dist/agent/config.js" "$CONFIG_FILE"); then
  CONFIG_OK=0
  warn "$CONFIG_FILE is invalid (see above): fix it, then: systemctl restart fleetml-agent"
  LISTEN_INFO="127.0.0.1:7070 ws"
fi
LISTEN=${LISTEN_INFO% *}; SCHEME=${LISTEN_INFO##* }

# ---- 5. systemd unit -------------------------------------------------------------------------------
mkdir -p "$SYSTEMD_DIR"
TMPUNIT=$(mktemp "$SYSTEMD_DIR/.$UNIT.XXXXXX")
sed -e "s#^ExecStart=/usr/bin/env node /opt/fleetml/#ExecStart=$NODE $PREFIX/#" \
    -e "s#--config /etc/fleetml/agent.yaml#--config $CONFIG_FILE#" \
    -e "s#^User=fleetml#User=$SVC_USER#" -e "s#^Group=fleetml#Group=$SVC_USER#" \
    "$SRC/systemd/$UNIT" >"$TMPUNIT"
chmod 0644 "$TMPUNIT"
mv "$TMPUNIT" "$SYSTEMD_DIR/$UNIT"
DROPIN_DIR="$SYSTEMD_DIR/$UNIT.d"
if [ "$STATE_DIR" != /var/lib/fleetml ]; then
  # StateDirectory= only knows /var/lib/…: point the agent at STATE_DIR and make it writable.
  mkdir -p "$DROPIN_DIR"
  cat >"$DROPIN_DIR/10-install-paths.conf" <<EOF
# Written by scripts/install-agent.sh (STATE_DIR=$STATE_DIR); rewritten on every install.
[Service]
Environment=FLEETML_DATA_DIR=$STATE_DIR
ReadWritePaths=$STATE_DIR
EOF
  chmod 0644 "$DROPIN_DIR/10-install-paths.conf"
else
  rm -f "$DROPIN_DIR/10-install-paths.conf"
  rmdir "$DROPIN_DIR" 2>/dev/null || true
fi
say "installed $SYSTEMD_DIR/$UNIT"

# ---- 6. first admin token (before the agent starts, so it does not create its own) ------------
TOKEN_FILE="$STATE_DIR/admin.token"
NEW_TOKEN=""
if [ -e "$TOKEN_FILE" ]; then
  TOKEN_MSG="an admin token already exists: $TOKEN_FILE (not shown again; read it with: sudo cat $TOKEN_FILE)"
else
  ACTIVE=$(fleetml token list --data-dir "$STATE_DIR" -o json \
    | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).filter(t=>!t.revoked_at).map(t=>t.name).join(" ")))')
  if [ -n "$ACTIVE" ]; then
    TOKEN_MSG="tokens already exist ($ACTIVE); no new one created. Make another with:
  sudo -u $SVC_USER fleetml token create --role admin --data-dir $STATE_DIR"
  else
    NEW_TOKEN=$(fleetml token create --role admin --name install-admin --data-dir "$STATE_DIR" -o json \
      | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')
    [ -n "$NEW_TOKEN" ] || die "could not create the admin token"
    (umask 077 && printf '%s\n' "$NEW_TOKEN" >"$TOKEN_FILE.tmp")
    [ "$NO_SYSTEM" = 1 ] || chown "$SVC_USER:$SVC_USER" "$TOKEN_FILE.tmp"
    mv "$TOKEN_FILE.tmp" "$TOKEN_FILE"
  fi
fi

# ---- 7. systemd ------------------------------------------------------------------------------
START_CMDS="systemctl daemon-reload && systemctl enable --now fleetml-agent"
if [ "$NO_SYSTEM" = 1 ]; then
  say "--no-system: not touching systemd. Run the agent in the foreground with:
  $NODE $PREFIX/dist/bin/fleetml.js agent --config $CONFIG_FILE --data-dir $STATE_DIR"
elif [ ! -d /run/systemd/system ]; then
  say "systemd is not running (PID 1 is $(cat /proc/1/comm 2>/dev/null || echo unknown)); on a systemd host run:
  $START_CMDS"
else
  systemctl daemon-reload
  if [ "$NO_START" = 1 ]; then
    say "NO_START=1: unit installed but not enabled; start it with: $START_CMDS"
  elif [ "$CONFIG_OK" != 1 ]; then
    systemctl enable "$UNIT" >/dev/null
    say "unit enabled but not (re)started because the config is invalid"
  else
    systemctl enable "$UNIT" >/dev/null 2>&1
    if systemctl is-active --quiet "$UNIT"; then
      systemctl restart "$UNIT"; say "restarted $UNIT (running jobs are kept: KillMode=process)"
    else
      systemctl start "$UNIT"; say "started $UNIT"
    fi
    sleep 1
    systemctl is-active --quiet "$UNIT" || warn "$UNIT is not active: journalctl -u fleetml-agent -e"
  fi
fi

# ---- 8. how to connect -----------------------------------------------------------------------
HOST=${LISTEN%:*}
case "$HOST" in
  127.*|localhost|'[::1]'|'0.0.0.0'|'[::]') URL_HOST=$(hostname -f 2>/dev/null || hostname) ;;
  *) URL_HOST=$HOST ;;
esac
PORT=${LISTEN##*:}
NODE_NAME=$(hostname -s 2>/dev/null || hostname)
echo
if [ -n "$NEW_TOKEN" ]; then
  cat <<EOF
================================================================================
First admin token (shown ONCE; also stored in $TOKEN_FILE, mode 0600):

  $NEW_TOKEN

On your workstation, save it to a file and add this node to your inventory:
  umask 077; mkdir -p ~/.config/fleetml
  echo '<the token above>' > ~/.config/fleetml/$NODE_NAME.token
  fleetml cluster add $NODE_NAME $SCHEME://$URL_HOST:$PORT --token-file ~/.config/fleetml/$NODE_NAME.token
Prefer a read-only token for dashboards:
  sudo -u $SVC_USER fleetml token create --role read --data-dir $STATE_DIR
================================================================================
EOF
else
  say "$TOKEN_MSG"
  echo "  add this node on your workstation: fleetml cluster add $NODE_NAME $SCHEME://$URL_HOST:$PORT --token-file FILE"
fi
case "$HOST" in
  127.*|localhost|'[::1]') echo "  note: the agent listens on $LISTEN (loopback only): use 'ssh -L $PORT:127.0.0.1:$PORT $NODE_NAME' and ws://127.0.0.1:$PORT, or set listen/tls in $CONFIG_FILE" ;;
esac
