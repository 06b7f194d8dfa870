#!/usr/bin/env bash
# The one test command, the same for a newcomer and for CI (.ci/run calls it):
#
#   ./scripts/test.sh [--no-e2e] [PYTEST ARGS...]
#
# Sets up everything itself: apt packages and .venv (scripts/setup.sh), the two Docker engines
# of the e2e tier (scripts/engine.sh: Docker 26 + buildx 0.13 + containerd 1.7 from Debian 13,
# Docker 28.5 + buildx 0.29 + containerd 2.1 from Debian unstable, QEMU for arm64); then ruff,
# mypy and pytest over every tier (unit, integration: real registries the tests start
# themselves, e2e: both engines). An engine of ours that already runs is reused and left
# running; the ones started here are stopped at the end (and the QEMU handlers put back as they
# were), whatever the outcome; the exit code is the first failing step's. Prints how long each
# step and each test tier took.
#
# The engines need root: as a user with sudo it runs itself again through sudo; without root
# and sudo it says in one line that the e2e tier cannot run and exits 2, unless --no-e2e asks
# to leave that tier out. Other arguments go to pytest (e.g. -x, -k NAME, tests/unit).
# POLYARCH_ENGINE_DIR: where the engines live (default /tmp/polyarch-engine).
set -euo pipefail
cd "$(dirname "$0")/.."

NO_E2E=""
PYTEST_ARGS=()
for arg in "$@"; do
  case "$arg" in
    --no-e2e) NO_E2E=yes ;;
    *) PYTEST_ARGS+=("$arg") ;;
  esac
done

if [ "$(id -u)" != 0 ] && [ -z "$NO_E2E" ]; then
  if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    echo "test: running again as root through sudo (the e2e tier starts Docker engines)"
    exec sudo -E bash "$PWD/scripts/test.sh" "$@"
  fi
  echo "test: cannot run the e2e tier: it starts Docker engines (dockerd, binfmt_misc), which needs root and there is no sudo; run as root, or pass --no-e2e to leave it out" >&2
  exit 2
fi

STARTED_AT=$SECONDS
step() {
  local name="$1" started=$SECONDS
  shift
  echo "== $name"
  "$@"
  echo "test: $name took $((SECONDS - started)) s"
}

step setup ./scripts/setup.sh

STARTED_ENGINES=()
stop_engines() {
  local rc=$?
  if [ "${#STARTED_ENGINES[@]}" -gt 0 ]; then
    bash scripts/engine.sh stop "${STARTED_ENGINES[@]}" || rc=1
  fi
  echo "test: everything took $((SECONDS - STARTED_AT)) s (exit code $rc)"
  exit "$rc"
}
trap stop_engines EXIT

if [ -z "$NO_E2E" ]; then
  step "engines: install" bash scripts/engine.sh install
  for engine in $(bash scripts/engine.sh names); do
    if bash scripts/engine.sh running "$engine"; then
      echo "test: engine $engine of ours already runs: reusing it, it stays running"
    else
      STARTED_ENGINES+=("$engine")
    fi
  done
  step "engines: start" bash scripts/engine.sh start
  bash scripts/engine.sh versions
else
  echo "test: --no-e2e: the e2e tier (real Docker engines) is left out"
  PYTEST_ARGS=(-m "not e2e" "${PYTEST_ARGS[@]}")
fi

step "ruff" sh -c '.venv/bin/ruff check . && .venv/bin/ruff format --check .'
step "mypy (strict)" .venv/bin/mypy
# The e2e tests find the engines through POLYARCH_ENGINE_DIR (tests/support/engine.py); the
# tiers' times and counts are printed at the end of pytest's summary (tests/conftest.py).
step "pytest" .venv/bin/pytest --durations=10 "${PYTEST_ARGS[@]}"
