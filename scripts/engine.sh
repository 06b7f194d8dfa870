#!/usr/bin/env bash
# The Docker engine the e2e tests, the demo and `polyarch verify --run` use: a real BuildKit.
#
#   scripts/engine.sh install   Debian 13's dockerd 26, containerd 1.7, docker CLI and buildx 0.13
#                               into a private prefix (scripts/trixie.sh, on Debian 12 or 13), plus
#                               apt's runc, qemu-user-static and binfmt-support (if missing)
#   scripts/engine.sh start     start that engine beside any other one (own sockets, data, config;
#                               containerd image store), record the QEMU binfmt_misc state, then
#                               enable the QEMU handlers
#   scripts/engine.sh stop      stop the engine `start` started (never another one), unmount what
#                               it left mounted, put the binfmt_misc state back as it was
#   scripts/engine.sh running   exit 0 when the engine `start` starts answers on its socket
#   scripts/engine.sh env       print the `export DOCKER_HOST=... DOCKER_CONFIG=...` lines that
#                               point the docker CLI (and polyarch) at it: eval "$(... env)"
#
# Why a private engine: Debian 12's docker.io is 20.10 (classic builder, no buildx package); what
# users run (Docker Desktop, docker-ce 23+) builds with BuildKit and pushes wrappers (image +
# provenance attestation manifests). Debian 13's dockerd, containerd, docker and docker-buildx run
# on Debian 12 as shipped; Debian 13's runc needs GLIBC_2.38, so the engine uses apt's runc.
#
# The engine: dockerd with `"features": {"containerd-snapshotter": true}` and its own managed
# containerd (socket and config under its exec-root), no networking of its own (no bridge, no
# iptables, no userland proxy: builds and containers use --network none, registries are on
# 127.0.0.1). The docker CLI reaches it through DOCKER_HOST; DOCKER_CONFIG holds the buildx plugin
# (cli-plugins/docker-buildx) and buildx's own state, so the default buildx builder is the `docker`
# driver on this engine, as on a stock install. Everything lives in $POLYARCH_ENGINE_DIR (default
# /tmp/polyarch-engine): docker.sock, dockerd.pid, dockerd.log, data/, exec/, docker-config/,
# binfmt.before. Needs root.
#
# POLYARCH_ENGINE_NETNS=1 (for start, stop and env; give the engine a POLYARCH_ENGINE_DIR of its
# own): dockerd runs in a network namespace of its own (`ip netns` polyarch-<hash of the state
# dir>, only its loopback up, no uplink) and keeps Docker's default bridge there. BuildKit runs an
# SBOM generator (`--attest type=sbom,generator=REF`) on the engine's default network, which an
# engine started with --bridge=none does not have ("network bridge not found"). The host's network
# is not touched; the engine's 127.0.0.1 is the namespace's own, so a registry on the host's
# loopback is reached through a loopback forwarder into it (tests/support/netns.py). `env` then
# also prints POLYARCH_ENGINE_NETNS_PATH=/run/netns/NAME; `stop` deletes the namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE_DIR="${POLYARCH_ENGINE_DIR:-/tmp/polyarch-engine}"
PID_FILE="$STATE_DIR/dockerd.pid"
LOG_FILE="$STATE_DIR/dockerd.log"
SOCKET="$STATE_DIR/docker.sock"
DATA_ROOT="$STATE_DIR/data"
EXEC_ROOT="$STATE_DIR/exec"
CLI_CONFIG="$STATE_DIR/docker-config"
BINFMT_BEFORE="$STATE_DIR/binfmt.before"
START_TIMEOUT="${POLYARCH_ENGINE_TIMEOUT:-60}" # seconds
BINFMT=/proc/sys/fs/binfmt_misc
TRIXIE_PACKAGES=(docker.io docker-cli docker-buildx containerd)
APT_PACKAGES=(runc qemu-user-static binfmt-support)

log() { echo "engine: $*"; }
fail() {
  echo "engine: $*" >&2
  exit 1
}

need_root() {
  [ "$(id -u)" = 0 ] || fail "'$0 $1' needs root (apt, dockerd, binfmt_misc): run it as root or with sudo"
}

trixie_bin() { bash scripts/trixie.sh bin; }

ours() {
  DOCKER_HOST="unix://$SOCKET" DOCKER_CONFIG="$CLI_CONFIG" "$@"
}

engine_answers() {
  [ -S "$SOCKET" ] && ours docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

install() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing apt packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    log "apt packages installed: ${APT_PACKAGES[*]}"
  fi
  bash scripts/trixie.sh install "${TRIXIE_PACKAGES[@]}"
  if ! command -v docker >/dev/null 2>&1; then
    log "no docker CLI in PATH: linking Debian 13's to /usr/local/bin/docker"
    ln -sf "$(trixie_bin)/docker" /usr/local/bin/docker
  fi
}

# --- QEMU handlers (binfmt_misc), and putting them back ----------------------------------------

# Where the system describes its QEMU handlers: binfmt-support's formats (Debian 12's
# qemu-user-static) and systemd-binfmt's binfmt.d lines (Debian 13's qemu-user-binfmt, which
# qemu-user-static pulls in there). A binfmt.d line is what the kernel's register file takes.
BINFMTS_DIR="${POLYARCH_BINFMTS_DIR:-/usr/share/binfmts}"
BINFMT_D_DIR="${POLYARCH_BINFMT_D_DIR:-/usr/lib/binfmt.d}"

# "NAME SOURCE" for each QEMU handler the system knows (SOURCE: "binfmts" or a binfmt.d file).
qemu_handlers() {
  local f line
  {
    for f in "$BINFMTS_DIR"/qemu-*; do
      [ -e "$f" ] && echo "$(basename "$f") binfmts"
    done
    for f in "$BINFMT_D_DIR"/qemu-*.conf; do
      [ -e "$f" ] || continue
      line="$(grep -v '^[#;]' "$f" | grep -m1 . || true)"
      [ -n "$line" ] && echo "$(cut -d "${line:0:1}" -f2 <<<"$line") $f"
    done
  } | awk '!seen[$1]++'
}

handler_state() {
  if [ ! -e "$BINFMT/$1" ]; then
    echo absent
  elif head -n1 "$BINFMT/$1" | grep -qx enabled; then
    echo enabled
  else
    echo disabled
  fi
}

# A line "mounted yes|no" for binfmt_misc, then one "NAME absent|enabled|disabled" per handler.
binfmt_state() {
  if mountpoint -q "$BINFMT"; then echo "mounted yes"; else echo "mounted no"; fi
  local name source
  while read -r name source; do
    echo "$name $(handler_state "$name")"
  done < <(qemu_handlers)
}

enable_emulators() {
  mkdir -p "$STATE_DIR"
  # The first start records the state; a second start (engine reused) must not overwrite it
  # with the state it created itself.
  if [ ! -f "$BINFMT_BEFORE" ]; then
    binfmt_state >"$BINFMT_BEFORE"
  fi
  if ! mountpoint -q "$BINFMT"; then
    log "mounting binfmt_misc on $BINFMT"
    mount binfmt_misc -t binfmt_misc "$BINFMT" \
      || { log "WARNING: cannot mount binfmt_misc: foreign platforms will not run"; return 0; }
  fi
  local name source enabled=()
  while read -r name source; do
    case "$(handler_state "$name")" in
      absent)
        if [ "$source" = binfmts ]; then
          update-binfmts --enable "$name" >/dev/null 2>&1 \
            || log "WARNING: update-binfmts --enable $name failed"
        else
          grep -v '^[#;]' "$source" | grep -m1 . >"$BINFMT/register" \
            || log "WARNING: cannot register $name from $source"
        fi
        ;;
      disabled) echo 1 >"$BINFMT/$name" || log "WARNING: cannot enable $name" ;;
    esac
    if [ "$(handler_state "$name")" = enabled ]; then enabled+=("${name#qemu-}"); fi
  done < <(qemu_handlers)
  log "QEMU handlers enabled: ${enabled[*]:-none}"
}

# Put every QEMU handler back as binfmt.before says: remove the ones that were absent, disable the
# ones that were disabled, unmount binfmt_misc if it was not mounted. Handlers someone else changed
# meanwhile are changed back too: the file is the state before our start.
restore_emulators() {
  [ -f "$BINFMT_BEFORE" ] || return 0
  local name state restored=0
  while read -r name state; do
    [ "$name" = mounted ] && continue
    [ -e "$BINFMT/$name" ] || continue
    case "$state" in
      absent) echo -1 >"$BINFMT/$name" && restored=$((restored + 1)) ;;
      disabled) echo 0 >"$BINFMT/$name" && restored=$((restored + 1)) ;;
    esac
  done <"$BINFMT_BEFORE"
  if grep -qx "mounted no" "$BINFMT_BEFORE" && mountpoint -q "$BINFMT"; then
    umount "$BINFMT" || log "WARNING: cannot unmount $BINFMT"
  fi
  log "QEMU handlers put back as before start ($restored changed back;" \
    "$(binfmt_state | grep -c ' enabled$') enabled now)"
  rm -f "$BINFMT_BEFORE"
}

# --- the engine's own network namespace (POLYARCH_ENGINE_NETNS) -------------------------------

netns_name() { echo "polyarch-$(printf %s "$STATE_DIR" | sha256sum | cut -c1-12)"; }

netns_up() {
  local name
  name="$(netns_name)"
  [ -e "/run/netns/$name" ] || ip netns add "$name"
  ip -n "$name" link set lo up
  log "network namespace $name (loopback only, Docker's bridge inside)"
}

netns_down() {
  local name
  name="$(netns_name)"
  if [ -e "/run/netns/$name" ]; then
    ip netns delete "$name" && log "network namespace $name deleted"
  fi
}

# --- the engine -------------------------------------------------------------------------------

start() {
  local bin
  bin="$(trixie_bin)"
  [ -x "$bin/dockerd" ] && [ -x "$bin/containerd" ] && [ -x "$bin/docker-buildx" ] \
    || fail "Debian 13's dockerd/containerd/docker-buildx are not in $bin: run '$0 install'"
  command -v runc >/dev/null || fail "runc not found: run '$0 install' (apt-get install runc)"
  # containerd's longest socket must fit a unix socket path (104 bytes on Linux with Go).
  local longest="$EXEC_ROOT/containerd/containerd-debug.sock"
  [ "${#longest}" -le 100 ] \
    || fail "$STATE_DIR is too long a path for the engine's unix sockets: set a shorter POLYARCH_ENGINE_DIR"
  mkdir -p "$STATE_DIR" "$CLI_CONFIG/cli-plugins"
  ln -sf "$bin/docker-buildx" "$CLI_CONFIG/cli-plugins/docker-buildx"
  if engine_answers; then
    log "our engine answers already ($(ours docker version --format '{{.Server.Version}}')" \
      "on $SOCKET): reusing it"
  else
    if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
      fail "dockerd pid $(cat "$PID_FILE") runs but does not answer on $SOCKET: '$0 stop' first"
    fi
    rm -f "$PID_FILE" "$SOCKET"
    cat >"$STATE_DIR/daemon.json" <<'EOF'
{"features": {"containerd-snapshotter": true}}
EOF
    log "starting dockerd $("$bin/dockerd" --version | awk '{print $3}' | tr -d ,) (log: $LOG_FILE)"
    local in_netns=() bridge=(--bridge=none)
    if [ -n "${POLYARCH_ENGINE_NETNS:-}" ]; then
      netns_up
      in_netns=(nsenter "--net=/run/netns/$(netns_name)") bridge=()
    fi
    # setsid: its own session, so that it outlives this script and is stopped by pid only.
    # PATH: Debian 13's containerd and shims first, then the system's runc.
    setsid "${in_netns[@]}" env PATH="$bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      "$bin/dockerd" --config-file "$STATE_DIR/daemon.json" \
      --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" --pidfile "$PID_FILE" \
      -H "unix://$SOCKET" \
      "${bridge[@]}" --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
      --userland-proxy=false >"$LOG_FILE" 2>&1 </dev/null &
    local pid=$!
    local deadline=$((SECONDS + START_TIMEOUT))
    until engine_answers; do
      if ! kill -0 "$pid" 2>/dev/null; then
        log "dockerd exited; the end of its log:" >&2
        tail -n 30 "$LOG_FILE" >&2 || true
        unmount_leftovers
        fail "the engine did not start (see above)"
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        log "dockerd did not answer within ${START_TIMEOUT}s; the end of its log:" >&2
        tail -n 30 "$LOG_FILE" >&2 || true
        echo "$pid" >"$PID_FILE"
        stop_engine
        fail "the engine did not start (see above)"
      fi
      sleep 0.2
    done
    echo "$pid" >"$PID_FILE"
    log "dockerd $(ours docker version --format '{{.Server.Version}}') is up (pid $pid," \
      "DOCKER_HOST=unix://$SOCKET)"
  fi
  local driver
  driver="$(ours docker buildx inspect 2>&1 | awk '$1 == "Driver:" {print $2; exit}')"
  [ -n "$driver" ] || fail "docker buildx does not answer on this engine: $(ours docker buildx inspect 2>&1 | tail -n1)"
  log "buildx $(ours docker buildx version | awk '{print $2}'), default builder's driver: $driver"
  enable_emulators
}

# dockerd 26 leaves a bind mount on its data-root (and mounts of its own below it) at exit.
unmount_leftovers() {
  local target
  for target in $(findmnt -rn -o TARGET | { grep -E "^$STATE_DIR(/|$)" || true; } | sort -r); do
    log "unmounting $target"
    umount "$target" 2>/dev/null || umount -l "$target" || log "WARNING: cannot unmount $target"
  done
}

stop_engine() {
  if [ ! -f "$PID_FILE" ]; then
    log "no dockerd started by $0: nothing to stop"
    unmount_leftovers
    netns_down
    return 0
  fi
  local pid comm
  pid="$(cat "$PID_FILE")"
  comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  if [ "$comm" != dockerd ]; then
    log "pid $pid is not a running dockerd any more: nothing to stop"
  else
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    # Wait (bounded) for it to exit (it stops its containerd first); tail --pid returns then.
    if ! timeout 30 tail --pid="$pid" -f /dev/null; then
      log "dockerd did not stop within 30s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PID_FILE" "$SOCKET"
  unmount_leftovers
  netns_down
}

stop() {
  stop_engine
  restore_emulators
}

env_lines() {
  echo "export DOCKER_HOST=unix://$SOCKET"
  echo "export DOCKER_CONFIG=$CLI_CONFIG"
  if [ -n "${POLYARCH_ENGINE_NETNS:-}" ]; then
    echo "export POLYARCH_ENGINE_NETNS_PATH=/run/netns/$(netns_name)"
  fi
}

case "${1:-}" in
  install | start | stop)
    need_root "$1"
    "$1"
    ;;
  env) env_lines ;;
  running) engine_answers ;;
  *)
    echo "usage: $0 install|start|stop|env|running" >&2
    exit 2
    ;;
esac
