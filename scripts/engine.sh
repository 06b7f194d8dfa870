#!/usr/bin/env bash
# The Docker engines the e2e tests, the demo and `polyarch verify --run` use: real BuildKits.
#
#   scripts/engine.sh install [ENGINE...]  the engines' dockerd, containerd, docker CLI and buildx
#                                          into a private prefix per Debian suite
#                                          (scripts/debian.sh, on Debian 12 or 13), plus apt's
#                                          runc, qemu-user-static and binfmt-support (if missing)
#   scripts/engine.sh start [ENGINE...]    start them beside any other engine (own sockets,
#                                          data, config; containerd image store), record the
#                                          QEMU binfmt_misc state (once), enable the QEMU handlers
#   scripts/engine.sh stop [ENGINE...]     stop the engines `start` started (never another one),
#                                          unmount what they left mounted; when none of ours
#                                          runs any more, put binfmt_misc back as it was
#   scripts/engine.sh running [ENGINE...]  exit 0 when every one of them answers on its socket
#   scripts/engine.sh env [ENGINE]         print the `export DOCKER_HOST=... DOCKER_CONFIG=...
#                                          PATH=...` lines that point the docker CLI (and
#                                          polyarch) at ENGINE: eval "$(... env docker28)"
#   scripts/engine.sh versions [ENGINE...] print "ENGINE dockerd X buildx Y containerd Z" of the
#                                          installed engines
#   scripts/engine.sh names                print the engines' names
#
# ENGINE (default: every engine for install/start/stop/running/versions, docker28 for env):
#   docker26  Debian 13 (trixie): dockerd 26.1, buildx 0.13, containerd 1.7
#   docker28  Debian unstable (sid): dockerd 28.5, buildx 0.29, containerd 2.1 (what users of
#             docker-ce 28 / Docker Desktop run today)
#
# Why private engines: Debian 12's docker.io is 20.10 (classic builder, no buildx package); what
# users run builds with BuildKit and pushes wrappers (image + provenance attestation manifests),
# and BuildKit versions differ in what they write. trixie's and sid's dockerd, containerd, docker
# and docker-buildx run on Debian 12 as shipped; their runc needs GLIBC_2.38, so the engines use
# apt's runc (Debian 12: 1.1.5).
#
# Each engine: dockerd with `"features": {"containerd-snapshotter": true}` and its own managed
# containerd (socket and config under its exec-root), no networking of its own (no bridge, no
# iptables, no userland proxy: builds and containers use --network none, registries are on
# 127.0.0.1). DOCKER_HOST reaches it; DOCKER_CONFIG holds its own buildx plugin
# (cli-plugins/docker-buildx) and buildx's state, so the default buildx builder is the `docker`
# driver on this engine, as on a stock install; PATH starts with a directory holding only its own
# docker CLI. Everything lives in $POLYARCH_ENGINE_DIR/ENGINE (default base /tmp/polyarch-engine):
# docker.sock, dockerd.pid, dockerd.log, data/, exec/, docker-config/, bin/; the QEMU state
# before the first start in $POLYARCH_ENGINE_DIR/binfmt.before. Needs root.
#
# POLYARCH_ENGINE_NETNS=1 (for start, stop and env; give such engines a POLYARCH_ENGINE_DIR of
# their own): dockerd runs in a network namespace of its own (`ip netns` polyarch-<hash of its
# state dir>, only its loopback up, no uplink) and keeps Docker's default bridge there. BuildKit
# runs an SBOM generator (`--attest type=sbom,generator=REF`) on the engine's default network,
# which an engine started with --bridge=none does not have ("network bridge not found"). The
# host's network is not touched; the engine's 127.0.0.1 is the namespace's own, so a registry on
# the host's loopback is reached through a loopback forwarder into it (tests/support/netns.py).
# `env` then also prints POLYARCH_ENGINE_NETNS_PATH=/run/netns/NAME; `stop` deletes the namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINES=(docker26 docker28)
DEFAULT_ENGINE=docker28
BASE_DIR="${POLYARCH_ENGINE_DIR:-/tmp/polyarch-engine}"
BINFMT_BEFORE="$BASE_DIR/binfmt.before"
START_TIMEOUT="${POLYARCH_ENGINE_TIMEOUT:-60}" # seconds
BINFMT=/proc/sys/fs/binfmt_misc
ENGINE_PACKAGES=(docker.io docker-cli docker-buildx containerd)
APT_PACKAGES=(runc qemu-user-static binfmt-support)

log() { echo "engine: $*"; }
fail() {
  echo "engine: $*" >&2
  exit 1
}

need_root() {
  [ "$(id -u)" = 0 ] || fail "'$0 $1' needs root (apt, dockerd, binfmt_misc): run it as root or with sudo"
}

suite_of() {
  case "$1" in
    docker26) echo trixie ;;
    docker28) echo sid ;;
    *) fail "unknown engine '$1' (engines: ${ENGINES[*]})" ;;
  esac
}

# Per-engine paths: ENGINE, SUITE, STATE_DIR, SOCKET, ... for the engine named $1.
select_engine() {
  ENGINE="$1"
  SUITE="$(suite_of "$ENGINE")"
  STATE_DIR="$BASE_DIR/$ENGINE"
  PID_FILE="$STATE_DIR/dockerd.pid"
  LOG_FILE="$STATE_DIR/dockerd.log"
  SOCKET="$STATE_DIR/docker.sock"
  DATA_ROOT="$STATE_DIR/data"
  EXEC_ROOT="$STATE_DIR/exec"
  CLI_CONFIG="$STATE_DIR/docker-config"
  CLI_BIN="$STATE_DIR/bin"
}

suite_bin() { bash scripts/debian.sh "$SUITE" bin; }

ours() {
  DOCKER_HOST="unix://$SOCKET" DOCKER_CONFIG="$CLI_CONFIG" "$(suite_bin)/docker" "$@"
}

engine_answers() {
  [ -S "$SOCKET" ] && ours version --format '{{.Server.Version}}' >/dev/null 2>&1
}

install_apt() {
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
}

install() {
  bash scripts/debian.sh "$SUITE" install "${ENGINE_PACKAGES[@]}"
  if ! command -v docker >/dev/null 2>&1; then
    # Scripts that run `docker` without `env` (and scripts/setup.sh, which would otherwise
    # install Debian 12's docker.io 20.10 and its system daemon) find a docker CLI.
    log "no docker CLI in PATH: linking $SUITE's to /usr/local/bin/docker"
    ln -sf "$(suite_bin)/docker" /usr/local/bin/docker
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
  mkdir -p "$BASE_DIR"
  # The first start records the state; a later start (another engine, or one reused) must not
  # overwrite it with the state an earlier start created.
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
# meanwhile are changed back too: the file is the state before our first start.
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
  log "QEMU handlers put back as before the first start ($restored changed back;" \
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
  bin="$(suite_bin)"
  [ -x "$bin/dockerd" ] && [ -x "$bin/containerd" ] && [ -x "$bin/docker-buildx" ] \
    || fail "$SUITE's dockerd/containerd/docker-buildx are not in $bin: run '$0 install $ENGINE'"
  command -v runc >/dev/null || fail "runc not found: run '$0 install' (apt-get install runc)"
  # containerd's longest socket must fit a unix socket path (104 bytes on Linux with Go).
  local longest="$EXEC_ROOT/containerd/containerd-debug.sock"
  [ "${#longest}" -le 100 ] \
    || fail "$BASE_DIR is too long a path for the engine's unix sockets: set a shorter POLYARCH_ENGINE_DIR"
  mkdir -p "$STATE_DIR" "$CLI_CONFIG/cli-plugins" "$CLI_BIN"
  ln -sf "$bin/docker-buildx" "$CLI_CONFIG/cli-plugins/docker-buildx"
  ln -sf "$bin/docker" "$CLI_BIN/docker"
  if engine_answers; then
    log "$ENGINE answers already ($(ours version --format '{{.Server.Version}}')" \
      "on $SOCKET): reusing it"
  else
    if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
      fail "dockerd pid $(cat "$PID_FILE") runs but does not answer on $SOCKET: '$0 stop $ENGINE' first"
    fi
    rm -f "$PID_FILE" "$SOCKET"
    cat >"$STATE_DIR/daemon.json" <<'EOF'
{"features": {"containerd-snapshotter": true}}
EOF
    log "starting $ENGINE: dockerd $("$bin/dockerd" --version | awk '{print $3}' | tr -d ,)" \
      "(log: $LOG_FILE)"
    local in_netns=() bridge=(--bridge=none)
    if [ -n "${POLYARCH_ENGINE_NETNS:-}" ]; then
      netns_up
      in_netns=(nsenter "--net=/run/netns/$(netns_name)") bridge=()
    fi
    # setsid: its own session, so that it outlives this script and is stopped by pid only.
    # PATH: the suite's containerd and shims first, then the system's runc.
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
        fail "$ENGINE did not start (see above)"
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        log "dockerd did not answer within ${START_TIMEOUT}s; the end of its log:" >&2
        tail -n 30 "$LOG_FILE" >&2 || true
        echo "$pid" >"$PID_FILE"
        stop_engine
        fail "$ENGINE did not start (see above)"
      fi
      sleep 0.2
    done
    echo "$pid" >"$PID_FILE"
    log "$ENGINE: dockerd $(ours version --format '{{.Server.Version}}') is up (pid $pid," \
      "DOCKER_HOST=unix://$SOCKET)"
  fi
  local driver
  driver="$(ours buildx inspect 2>&1 | awk '$1 == "Driver:" {print $2; exit}')"
  [ -n "$driver" ] || fail "docker buildx does not answer on $ENGINE: $(ours buildx inspect 2>&1 | tail -n1)"
  log "$ENGINE: buildx $(ours buildx version | awk '{print $2}'), default builder's driver: $driver"
}

# dockerd leaves a bind mount on its data-root (and mounts of its own below it) at exit.
unmount_leftovers() {
  local target
  for target in $(findmnt -rn -o TARGET | { grep -E "^$STATE_DIR(/|$)" || true; } | sort -r); do
    log "unmounting $target"
    umount "$target" 2>/dev/null || umount -l "$target" || log "WARNING: cannot unmount $target"
  done
}

stop_engine() {
  if [ ! -f "$PID_FILE" ]; then
    log "no dockerd of $ENGINE started by $0: nothing to stop"
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
    log "stopping $ENGINE (dockerd pid $pid)"
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

# True when a dockerd started by us (any engine under $BASE_DIR) still runs.
any_engine_running() {
  local e pid
  for e in "${ENGINES[@]}"; do
    [ -f "$BASE_DIR/$e/dockerd.pid" ] || continue
    pid="$(cat "$BASE_DIR/$e/dockerd.pid")"
    [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = dockerd ] && return 0
  done
  return 1
}

env_lines() {
  echo "export DOCKER_HOST=unix://$SOCKET"
  echo "export DOCKER_CONFIG=$CLI_CONFIG"
  echo "export PATH=$CLI_BIN:\$PATH"
  if [ -n "${POLYARCH_ENGINE_NETNS:-}" ]; then
    echo "export POLYARCH_ENGINE_NETNS_PATH=/run/netns/$(netns_name)"
  fi
}

versions() {
  local bin
  bin="$(suite_bin)"
  [ -x "$bin/dockerd" ] || { echo "$ENGINE not installed"; return 0; }
  echo "$ENGINE ($SUITE): dockerd $(bash scripts/debian.sh "$SUITE" version docker.io)," \
    "buildx $(bash scripts/debian.sh "$SUITE" version docker-buildx)," \
    "containerd $(bash scripts/debian.sh "$SUITE" version containerd)"
}

command="${1:-}"
[ "$#" -gt 0 ] && shift
selected=("$@")
if [ "${#selected[@]}" -eq 0 ]; then
  selected=("${ENGINES[@]}")
  [ "$command" = env ] && selected=("$DEFAULT_ENGINE")
fi
for e in "${selected[@]}"; do suite_of "$e" >/dev/null; done

case "$command" in
  install)
    need_root install
    install_apt
    for e in "${selected[@]}"; do select_engine "$e" && install; done
    ;;
  start)
    need_root start
    for e in "${selected[@]}"; do select_engine "$e" && start; done
    enable_emulators
    ;;
  stop)
    need_root stop
    for e in "${selected[@]}"; do select_engine "$e" && stop_engine; done
    if any_engine_running; then
      log "an engine of ours still runs: the QEMU handlers stay as they are"
    else
      restore_emulators
    fi
    ;;
  running)
    for e in "${selected[@]}"; do select_engine "$e" && engine_answers; done
    ;;
  env)
    [ "${#selected[@]}" -eq 1 ] || fail "env takes one engine"
    select_engine "${selected[0]}" && env_lines
    ;;
  versions)
    for e in "${selected[@]}"; do select_engine "$e" && versions; done
    ;;
  names) echo "${ENGINES[*]}" ;;
  *)
    echo "usage: $0 install|start|stop|running|versions [ENGINE...] | env [ENGINE] | names" \
      "(engines: ${ENGINES[*]})" >&2
    exit 2
    ;;
esac
