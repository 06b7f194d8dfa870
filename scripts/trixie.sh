#!/usr/bin/env bash
# Debian 13 (trixie) tools in a private prefix, on Debian 12 or Debian 13, without touching the
# system's apt: an apt configuration of our own (its own sources list naming trixie, its own lists
# and cache), `apt-get download`, then `dpkg -x` into $PREFIX.
#
#   scripts/trixie.sh install PKG...   fetch and unpack PKG... (e.g. docker.io docker-buildx cosign oras)
#   scripts/trixie.sh bin              print the directory holding the unpacked binaries
#   scripts/trixie.sh has PKG          exit 0 when PKG is unpacked in the prefix
#
# The archive is the one the system's own apt configuration already uses (read from
# /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list), with the suite set to trixie and
# the Debian archive keyring for signatures. Only packages named here are unpacked, not their
# dependencies: the Go binaries we need (dockerd, containerd, docker, docker-buildx, skopeo,
# cosign, oras) are static enough to run on Debian 12 as shipped. Measured: runc from trixie
# needs GLIBC_2.38, so on Debian 12 the engine keeps the system's runc (scripts/engine.sh).
#
# PREFIX: $POLYARCH_TRIXIE_PREFIX (default /opt/polyarch-trixie). Idempotent.
set -euo pipefail

PREFIX="${POLYARCH_TRIXIE_PREFIX:-/opt/polyarch-trixie}"
APT_DIR="$PREFIX/apt"

log() { echo "trixie: $*"; }

archive_uri() {
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    # deb822: the URIs of the first stanza that is not the security archive.
    uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || { log "no Debian archive found in the system's apt sources" >&2; exit 1; }
  echo "$uri"
}

apt_opts() {
  echo "-o Dir::Etc::SourceList=$APT_DIR/sources.list -o Dir::Etc::SourceParts=/dev/null" \
    "-o Dir::State::Lists=$APT_DIR/lists -o Dir::Cache=$APT_DIR/cache" \
    "-o Dir::State::Status=$APT_DIR/status -o APT::Get::List-Cleanup=0" \
    "-o Debug::NoLocking=1 -o APT::Sandbox::User=root"
}

update_lists() {
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  touch "$APT_DIR/status"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$keyring" ] || { log "$keyring missing: apt-get install debian-archive-keyring" >&2; exit 1; }
  echo "deb [signed-by=$keyring] $(archive_uri) trixie main" >"$APT_DIR/sources.list"
  # Lists younger than a day are reused: the CI machine is fresh anyway.
  if [ -z "$(find "$APT_DIR/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null)" ]; then
    log "updating trixie package lists (private to $APT_DIR)"
    # shellcheck disable=SC2046
    apt-get $(apt_opts) -qq update
  fi
}

install() {
  [ "$#" -gt 0 ] || { echo "usage: $0 install PKG..." >&2; exit 2; }
  mkdir -p "$PREFIX/stamps"
  local todo=() p
  for p in "$@"; do [ -e "$PREFIX/stamps/$p" ] || todo+=("$p"); done
  if [ "${#todo[@]}" -eq 0 ]; then
    log "already unpacked in $PREFIX: $*"
    return
  fi
  update_lists
  local dl="$APT_DIR/debs"
  mkdir -p "$dl"
  log "downloading ${todo[*]}"
  # shellcheck disable=SC2046
  (cd "$dl" && apt-get $(apt_opts) -qq download "${todo[@]}")
  for p in "${todo[@]}"; do
    local deb
    deb=$(ls -t "$dl/${p}_"*.deb | head -n1)
    dpkg -x "$deb" "$PREFIX/root"
    basename "$deb" >"$PREFIX/stamps/$p"
    log "unpacked $(basename "$deb")"
  done
  mkdir -p "$PREFIX/bin"
  # One bin directory: the binaries of every unpacked package, plus the CLI plugins (docker-buildx).
  local f
  for f in "$PREFIX"/root/usr/bin/* "$PREFIX"/root/usr/sbin/* "$PREFIX"/root/usr/libexec/docker/cli-plugins/*; do
    [ -f "$f" ] && [ -x "$f" ] && ln -sf "$f" "$PREFIX/bin/$(basename "$f")"
  done
}

case "${1:-}" in
  install) shift; install "$@" ;;
  bin) echo "$PREFIX/bin" ;;
  has) [ -e "$PREFIX/stamps/${2:?usage: $0 has PKG}" ] ;;
  *)
    echo "usage: $0 install PKG... | bin | has PKG" >&2
    exit 2
    ;;
esac
