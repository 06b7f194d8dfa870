#!/usr/bin/env bash
# Debian 13 (trixie) tools in a private prefix, on Debian 12 or Debian 13, without touching the
# system's apt: an apt configuration of our own (its own sources list naming trixie, its own lists
# and cache), `apt-get download`, then `dpkg -x` into $PREFIX.
#
#   scripts/trixie.sh install PKG...   fetch and unpack PKG... (e.g. docker.io docker-buildx cosign oras)
#   scripts/trixie.sh bin              print the directory holding the unpacked binaries
#   scripts/trixie.sh has PKG          exit 0 when PKG is unpacked in the prefix
#   scripts/trixie.sh glibc PKG...     unpack PKG... and make their binaries run on Debian 12 too
#                                      (e.g. skopeo podman: Debian 13's builds need GLIBC_2.38)
#   scripts/trixie.sh glibc-bin        print the directory holding those runnable binaries
#
# The archive is the one the system's own apt configuration already uses (read from
# /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list), with the suite set to trixie and
# the Debian archive keyring for signatures. Only packages named here are unpacked, not their
# dependencies: the Go binaries we need (dockerd, containerd, docker, docker-buildx, skopeo,
# cosign, oras) are static enough to run on Debian 12 as shipped. Measured: runc from trixie
# needs GLIBC_2.38, so on Debian 12 the engine keeps the system's runc (scripts/engine.sh).
#
# `glibc` is for the binaries that do link Debian 13's glibc (skopeo 1.18, podman 5): it unpacks
# Debian 13's libc6 and the few libraries they link that Debian 12 lacks or has too old
# (GLIBC_LIBS) into a root of their own, $PREFIX/glibc, and writes for each binary a wrapper in
# $PREFIX/glibc-bin that starts it with that glibc's dynamic loader and library path (the
# loader's --library-path; the system's libraries remain the fallback). Nothing outside the
# prefix changes, and no other program sees that glibc. On Debian 13 the wrappers are symlinks.
# podman also gets netavark (it checks for it at start) in $PREFIX/root/usr/lib/podman.
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

#: What Debian 13's skopeo and podman link beyond Debian 12's libraries.
GLIBC_LIBS=(libc6 libgpgme11t64 libassuan9 libgpg-error0 libsubid5 libseccomp2)

install() {
  [ "$#" -gt 0 ] || { echo "usage: $0 install PKG..." >&2; exit 2; }
  unpack "$PREFIX/root" "$@"
}

# unpack ROOT PKG...: download PKG... (those not unpacked yet) and dpkg -x them into ROOT.
unpack() {
  local root="$1"
  shift
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
    dpkg -x "$deb" "$root"
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

system_glibc_ok() {
  # Debian 13's builds ask for GLIBC_2.38 at most.
  local version
  version=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
  [ "$(printf '%s\n2.38\n' "$version" | sort -V | head -n1)" = "2.38" ]
}

glibc() {
  [ "$#" -gt 0 ] || { echo "usage: $0 glibc PKG..." >&2; exit 2; }
  local extra=() p
  for p in "$@"; do [ "$p" = podman ] && extra+=(netavark); done
  install "$@" "${extra[@]}"
  mkdir -p "$PREFIX/glibc-bin"
  local libdir="" loader=""
  if ! system_glibc_ok; then
    unpack "$PREFIX/glibc" "${GLIBC_LIBS[@]}"
    libdir=$(dirname "$(find "$PREFIX/glibc" -name 'libc.so.6' | head -n1)")
    loader=$(find "$PREFIX/glibc" -name 'ld-linux*.so.*' -type f | head -n1)
    [ -n "$libdir" ] && [ -n "$loader" ] || { log "no loader in Debian 13's libc6" >&2; exit 1; }
  fi
  local bin
  for p in "$@"; do
    bin="$PREFIX/root/usr/bin/$p"
    [ -x "$bin" ] || { log "$p: no $bin after unpacking" >&2; exit 1; }
    if [ -z "$loader" ]; then
      ln -sf "$bin" "$PREFIX/glibc-bin/$p"
      continue
    fi
    rm -f "$PREFIX/glibc-bin/$p"
    printf '#!/bin/sh\n# Debian 13 %s on an older glibc: started by Debian 13 glibc'"'"'s loader (scripts/trixie.sh).\nexec %s --library-path %s %s "$@"\n' \
      "$p" "$loader" "$libdir" "$bin" >"$PREFIX/glibc-bin/$p"
    chmod 755 "$PREFIX/glibc-bin/$p"
  done
  log "runnable here: $(ls "$PREFIX/glibc-bin" | tr '\n' ' ')(in $PREFIX/glibc-bin)"
}

case "${1:-}" in
  install) shift; install "$@" ;;
  glibc) shift; glibc "$@" ;;
  glibc-bin) echo "$PREFIX/glibc-bin" ;;
  bin) echo "$PREFIX/bin" ;;
  has) [ -e "$PREFIX/stamps/${2:?usage: $0 has PKG}" ] ;;
  *)
    echo "usage: $0 install PKG... | bin | has PKG | glibc PKG... | glibc-bin" >&2
    exit 2
    ;;
esac
