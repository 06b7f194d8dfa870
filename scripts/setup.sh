#!/usr/bin/env bash
# Set up a fresh Debian machine for polyarch: apt packages, then a venv in .venv.
# Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# docker-registry: the real registry the tests and the quick start run.
# apache2-utils: htpasswd (bcrypt) for the Basic-auth registry tests.
# skopeo, docker.io (the docker CLI): peers that must read what we publish.
# zstd: the gzip/zstd twin fixtures (what podman --add-compression zstd pushes).
# conmon, patchelf: sid's podman checks for conmon at start; patchelf points sid's skopeo and
# podman at sid's glibc on an older system (scripts/debian.sh glibc).
APT_PACKAGES=(docker-registry apache2-utils skopeo ca-certificates zstd conmon patchelf)
if ! command -v docker >/dev/null 2>&1; then APT_PACKAGES+=(docker.io); fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  APT_PACKAGES+=(python3 python3-venv)
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Private prefixes (scripts/debian.sh): cosign and oras from Debian 13, with which
# tests/integration/test_referrers.py signs and attaches SBOMs; crane, oras, skopeo 1.22 and
# podman 5.8 from Debian unstable, the newest readers of what we publish (tests/e2e), and
# cosign 3.1 (its bundle form: tests/integration/test_signatures.py). Required under CI;
# elsewhere the tests that need them skip.
if ! { $SUDO bash scripts/debian.sh trixie install cosign oras \
  && $SUDO bash scripts/debian.sh sid install crane oras cosign \
  && $SUDO bash scripts/debian.sh sid glibc skopeo podman; }; then
  if [ -n "${CI:-}" ]; then exit 1; fi
  echo "setup: cosign/oras/crane/skopeo/podman not all installed: the tests that need them will skip" >&2
fi

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "polyarch needs Python 3.11 or newer")'
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
echo "setup: done ($(.venv/bin/polyarch --version))"
