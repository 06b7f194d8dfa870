#!/usr/bin/env bash
# The pipeline demo, one command on a fresh Debian machine (as root, or with sudo):
#
#   ./scripts/demo.sh
#
# Sets up polyarch (scripts/setup.sh), installs and starts a Docker engine with QEMU
# (scripts/engine.sh's docker28: Docker 28.5, buildx 0.29, containerd 2.1 from Debian unstable;
# DEMO_ENGINE=docker26 for Debian 13's Docker 26; an engine that already runs is reused),
# starts a docker-registry on
# a free 127.0.0.1 port, copies examples/metrics-api to demo-work/ and points its spec at
# that registry, then does what CI does for the seeds' metrics-api:
#
#   two "CI runners": polyarch build --platform linux/amd64 / linux/arm64 (own records each)
#   one publish job:  polyarch publish --records runner-amd64 --records runner-arm64
#   anyone, later:    polyarch verify TARGET --records ... --exact --run=/app/healthcheck
#
# Every command is printed before it runs. At the end (or on failure) the registry, the
# demo's local images and an engine this script started are stopped or removed, and the QEMU
# binfmt_misc handlers are put back as they were before (scripts/engine.sh stop); demo-work/
# is kept for a look and recreated by the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="$ROOT/demo-work"
export PATH="$ROOT/.venv/bin:$PATH"   # polyarch, from scripts/setup.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() {
  # Print a command (with paths relative to the repository), then run it.
  printf '\n$ %s\n' "$(printf '%q ' "$@" | sed -e "s|$ROOT/||g" -e 's/ $//')"
  "$@"
}

ENGINE="${DEMO_ENGINE:-docker28}"
REGISTRY_PID=""
STARTED_ENGINE=""
HOST=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$HOST" ] && docker version >/dev/null 2>&1; then
    local images  # built, and pulled by digest (untagged), from the demo's registry
    images="$(docker images --format '{{.Repository}} {{.ID}}' |
      awk -v p="$HOST/" 'index($1, p) == 1 {print $2}' | sort -u)"
    if [ -n "$images" ]; then
      # shellcheck disable=SC2086
      docker rmi --force $images >/dev/null 2>&1
    fi
  fi
  if [ -n "$REGISTRY_PID" ]; then
    kill -TERM "$REGISTRY_PID" 2>/dev/null && wait "$REGISTRY_PID" 2>/dev/null
    echo "demo: registry stopped"
  fi
  if [ -n "$STARTED_ENGINE" ]; then
    bash "$ROOT/scripts/engine.sh" stop "$ENGINE"
  fi
  if [ "$rc" -ne 0 ]; then
    echo "demo: FAILED (exit code $rc)" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT

say "Set up polyarch, a Docker engine and QEMU"
./scripts/setup.sh
bash scripts/engine.sh install "$ENGINE"
if ! bash scripts/engine.sh running "$ENGINE"; then
  STARTED_ENGINE=yes # stopped at the end, and the QEMU handlers put back as they were
fi
bash scripts/engine.sh start "$ENGINE"
# DOCKER_HOST, DOCKER_CONFIG, PATH: that engine, its buildx and its docker CLI
eval "$(bash scripts/engine.sh env "$ENGINE")"

say "Start a registry on 127.0.0.1"
rm -rf "$WORK"
mkdir -p "$WORK"
.venv/bin/python scripts/demo_support.py serve "$WORK/registry" "$WORK/registry.host" \
  >"$WORK/registry.out" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 150); do
  [ -s "$WORK/registry.host" ] && break
  kill -0 "$REGISTRY_PID" 2>/dev/null || { cat "$WORK/registry.out" >&2; exit 1; }
  sleep 0.1
done
HOST="$(cat "$WORK/registry.host")"
echo "demo: registry at http://$HOST (log: demo-work/registry/registry.log)"

say "Prepare the example: examples/metrics-api -> demo-work/metrics-api"
SPEC="$(.venv/bin/python scripts/demo_support.py prepare "$WORK/metrics-api" "$HOST/metrics-api")"
echo "demo: busybox-static (amd64, arm64) copied into each build context; the spec:"
sed -e 's/^/    /' "$SPEC"
TARGET="$HOST/metrics-api:v2.0.0"
cd "$WORK/metrics-api"

say "CI runner 1 (ubuntu-24.04, amd64): build the Go service"
show polyarch build --platform linux/amd64 --records ../runner-amd64 --network none

say "CI runner 2 (ubuntu-24.04-arm, arm64): build the legacy Python service"
show polyarch build --platform linux/arm64 --records ../runner-arm64 --network none

say "The records the runners upload as artifacts"
for f in ../runner-amd64/*.json ../runner-arm64/*.json; do
  echo "--- ${f#../}"
  cat "$f"
done

say "The publish job: one index, every tag, verified (each platform started)"
show polyarch publish --records ../runner-amd64 --records ../runner-arm64

say "Anyone, later: verify the tag against the records, and start each platform"
# Each run check's DETAIL holds what that platform printed (its first line; --json: all).
show polyarch verify "$TARGET" --records ../runner-amd64 --records ../runner-arm64 \
  --exact --run=/app/healthcheck

show polyarch inspect "$TARGET"

say "Done"
echo "demo: published $TARGET and ${TARGET%:*}:latest; records and spec are in demo-work/"
