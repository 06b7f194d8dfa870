#!/usr/bin/env bash
# The local Docker engine the e2e tests need (tests/e2e, `polyarch verify --run`).
#
#   scripts/engine.sh install   apt-get install docker.io qemu-user-static binfmt-support (if missing)
#   scripts/engine.sh start     start dockerd in the background (unless one answers already),
#                               mount binfmt_misc and enable the QEMU handlers
#   scripts/engine.sh stop      stop the dockerd that `start` started (never another one)
#
# dockerd runs without networking of its own (no bridge, no iptables): builds and
# containers use --network none, registries are on 127.0.0.1. Its log and pid file are in
# $POLYARCH_ENGINE_DIR (default /tmp/polyarch-engine). Needs root.
# POLYARCH_DOCKERD_ARGS (default empty) adds dockerd options, e.g. to try this script next
# to a running engine: "--data-root D --exec-root E --pidfile P -H unix:///S" with
# DOCKER_HOST=unix:///S.
set -euo pipefail

STATE_DIR="${POLYARCH_ENGINE_DIR:-/tmp/polyarch-engine}"
PID_FILE="$STATE_DIR/dockerd.pid"
LOG_FILE="$STATE_DIR/dockerd.log"
START_TIMEOUT="${POLYARCH_ENGINE_TIMEOUT:-60}"   # seconds
BINFMT=/proc/sys/fs/binfmt_misc

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

log() { echo "engine: $*"; }

engine_answers() {
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

install() {
  local missing=() p
  for p in docker.io qemu-user-static binfmt-support; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "docker.io, qemu-user-static and binfmt-support are installed"
    return
  fi
  log "installing apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

enable_emulators() {
  if ! mountpoint -q "$BINFMT"; then
    log "mounting binfmt_misc on $BINFMT"
    $SUDO mount binfmt_misc -t binfmt_misc "$BINFMT" \
      || { log "WARNING: cannot mount binfmt_misc: foreign platforms will not run"; return 0; }
  fi
  local format name enabled=()
  for format in /usr/share/binfmts/qemu-*; do
    [ -e "$format" ] || continue
    name="$(basename "$format")"
    if [ ! -e "$BINFMT/$name" ]; then
      $SUDO update-binfmts --enable "$name" >/dev/null 2>&1 \
        || log "WARNING: update-binfmts --enable $name failed"
    fi
    if [ -e "$BINFMT/$name" ] && head -n1 "$BINFMT/$name" | grep -qx enabled; then
      enabled+=("${name#qemu-}")
    fi
  done
  log "QEMU handlers enabled: ${enabled[*]:-none}"
}

start() {
  if engine_answers; then
    log "a Docker engine answers already ($(docker version --format '{{.Server.Version}}')): reusing it"
  else
    command -v dockerd >/dev/null || { log "dockerd not found: run '$0 install'"; exit 1; }
    mkdir -p "$STATE_DIR"
    log "starting dockerd (log: $LOG_FILE)"
    # setsid: its own session, so that it outlives this script and is stopped by pid only.
    local extra
    read -r -a extra <<<"${POLYARCH_DOCKERD_ARGS:-}"
    setsid $SUDO dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
      ${extra[@]+"${extra[@]}"} >"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    local deadline=$((SECONDS + START_TIMEOUT))
    until engine_answers; do
      if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
        log "dockerd exited; the end of its log:"
        tail -n 30 "$LOG_FILE" >&2 || true
        rm -f "$PID_FILE"
        exit 1
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        log "dockerd did not answer within ${START_TIMEOUT}s; the end of its log:"
        tail -n 30 "$LOG_FILE" >&2 || true
        stop
        exit 1
      fi
      sleep 0.5
    done
    log "dockerd $(docker version --format '{{.Server.Version}}') is up (pid $(cat "$PID_FILE"))"
  fi
  enable_emulators
}

stop() {
  if [ ! -f "$PID_FILE" ]; then
    log "no dockerd started by $0: nothing to stop"
    return 0
  fi
  local pid
  pid="$(cat "$PID_FILE")"
  local comm
  comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  if [ "$comm" != dockerd ] && [ "$comm" != sudo ]; then
    log "pid $pid is not a running dockerd any more: nothing to stop"
  else
    log "stopping dockerd (pid $pid)"
    $SUDO kill -TERM "$pid" 2>/dev/null || true
    # Wait (bounded) for it to exit; tail --pid returns as soon as it has.
    if ! timeout 30 tail --pid="$pid" -f /dev/null; then
      log "dockerd did not stop within 30s: killing it"
      $SUDO kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PID_FILE"
}

case "${1:-}" in
  install | start | stop) "$1" ;;
  *)
    echo "usage: $0 install|start|stop" >&2
    exit 2
    ;;
esac
