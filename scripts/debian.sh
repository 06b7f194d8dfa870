#!/usr/bin/env bash
# Newer Debian tools (Debian 13 "trixie", Debian unstable "sid") in a private prefix per suite,
# on Debian 12 or 13, without touching the system's apt: an apt configuration of our own (its own
# sources list naming SUITE, its own lists and cache), `apt-get download`, then `dpkg -x` into
# the suite's prefix.
#
#   scripts/debian.sh SUITE install PKG...   fetch and unpack PKG... (e.g. docker.io docker-buildx)
#   scripts/debian.sh SUITE bin              print the directory holding the unpacked binaries
#   scripts/debian.sh SUITE has PKG          exit 0 when PKG is unpacked in the prefix
#   scripts/debian.sh SUITE version PKG      print the Debian version of PKG unpacked there
#   scripts/debian.sh SUITE glibc PKG...     unpack PKG... and make their binaries run here even
#                                            when the suite's builds need a newer glibc
#                                            (skopeo, podman: they link the suite's glibc)
#   scripts/debian.sh SUITE glibc-bin        print the directory holding those runnable binaries
#   scripts/debian.sh SUITE prefix           print the suite's prefix
#
# SUITE: trixie or sid. The archive is the one the system's own apt configuration already uses
# (read from /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list), with the suite set to
# SUITE and the Debian archive keyring for signatures. `install` unpacks only the packages
# named, not their dependencies: the Go binaries we take (dockerd, containerd, docker,
# docker-buildx, crane, cosign, oras) are static enough to run on Debian 12 as shipped.
# Measured on Debian 12 (glibc 2.36): runc from trixie and from sid both need GLIBC_2.38, so there
# the engines keep apt's runc (scripts/engine.sh).
#
# `glibc` is for the binaries that do link the suite's glibc (skopeo, podman): when the system's
# glibc is older than the suite's, it unpacks the suite's libc6 and the library packages those
# binaries depend on (Depends/Pre-Depends, first alternative, followed through library packages
# only, as the suite's own apt metadata says) into a root of their own, $PREFIX/glibc, and puts
# in $PREFIX/glibc-bin a copy of each binary whose ELF interpreter is that glibc's dynamic loader
# and whose DT_RPATH is that glibc's library directory (patchelf, from the system's apt: the
# system's libraries remain the fallback). A copy, not a wrapper script that starts the loader:
# podman re-executes itself through /proc/self/exe (containers/storage applies layers in a
# re-executed child), which must be the program, not the loader. Nothing outside the prefix
# changes, and no other program sees that glibc. Measured on Debian 12: sid's skopeo 1.22 and
# podman 5.8 need glibc 2.38+, libgpgme45 and libsubid6 (24 library packages, 22 MB unpacked);
# podman also needs conmon at start (Debian 12's apt conmon 2.1.6 does). With a glibc as new as
# the suite's, glibc-bin holds symlinks. podman also gets netavark (it checks for it at start)
# in $PREFIX/root/usr/lib/podman.
#
# PREFIX: $POLYARCH_<SUITE>_PREFIX (POLYARCH_TRIXIE_PREFIX, POLYARCH_SID_PREFIX), default
# /opt/polyarch-SUITE. Package lists younger than a day are reused. Idempotent.
set -euo pipefail

usage() {
  echo "usage: $0 trixie|sid install PKG... | bin | has PKG | version PKG | glibc PKG... | glibc-bin | prefix" >&2
  exit 2
}

SUITE="${1:-}"
case "$SUITE" in
  trixie | sid) shift ;;
  *) usage ;;
esac
PREFIX_VAR="POLYARCH_${SUITE^^}_PREFIX"
PREFIX="${!PREFIX_VAR:-/opt/polyarch-$SUITE}"
APT_DIR="$PREFIX/apt"

log() { echo "$SUITE: $*"; }

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

APT_OPTS=(
  -o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache"
  -o "Dir::State::Status=$APT_DIR/status" -o APT::Get::List-Cleanup=0
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root
)

update_lists() {
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  touch "$APT_DIR/status"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$keyring" ] || { log "$keyring missing: apt-get install debian-archive-keyring" >&2; exit 1; }
  echo "deb [signed-by=$keyring] $(archive_uri) $SUITE main" >"$APT_DIR/sources.list"
  # Lists younger than a day are reused: the CI machine is fresh anyway.
  if [ -z "$(find "$APT_DIR/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null)" ]; then
    log "updating $SUITE package lists (private to $APT_DIR)"
    apt-get "${APT_OPTS[@]}" -qq update
  fi
}

install() {
  [ "$#" -gt 0 ] || usage
  unpack "$PREFIX/root" "$@"
}

# unpack ROOT PKG...: download PKG... (those not unpacked into ROOT yet) and dpkg -x them there.
unpack() {
  local root="$1"
  shift
  local stamps="$PREFIX/stamps"
  [ "$root" = "$PREFIX/root" ] || stamps="$PREFIX/stamps-$(basename "$root")"
  mkdir -p "$stamps"
  local todo=() p
  for p in "$@"; do [ -e "$stamps/$p" ] || todo+=("$p"); done
  if [ "${#todo[@]}" -eq 0 ]; then
    log "already unpacked in $root: $*"
    return
  fi
  update_lists
  local dl="$APT_DIR/debs"
  mkdir -p "$dl"
  log "downloading ${todo[*]}"
  (cd "$dl" && apt-get "${APT_OPTS[@]}" -qq download "${todo[@]}")
  for p in "${todo[@]}"; do
    local deb
    deb=$(ls -t "$dl/${p}_"*.deb | head -n1)
    dpkg -x "$deb" "$root"
    basename "$deb" >"$stamps/$p"
    log "unpacked $(basename "$deb")"
  done
  [ "$root" = "$PREFIX/root" ] || return 0
  mkdir -p "$PREFIX/bin"
  # One bin directory: the binaries of every unpacked package, plus the CLI plugins (docker-buildx).
  local f
  for f in "$PREFIX"/root/usr/bin/* "$PREFIX"/root/usr/sbin/* "$PREFIX"/root/usr/libexec/docker/cli-plugins/*; do
    [ -f "$f" ] && [ -x "$f" ] && ln -sf "$f" "$PREFIX/bin/$(basename "$f")"
  done
}

# The upstream version of the suite's glibc (2.41 from "2.41-12").
suite_glibc() {
  update_lists
  apt-cache "${APT_OPTS[@]}" show libc6 | awk '/^Version:/ {print $2; exit}' \
    | sed -e 's/^[0-9]*://' -e 's/-.*//'
}

system_glibc_ok() {
  local have need
  have=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
  need=$(suite_glibc)
  [ "$(printf '%s\n%s\n' "$have" "$need" | sort -V | head -n1)" = "$need" ]
}

# The suite's libc6 and the library packages PKG... need, directly or not (Depends and
# Pre-Depends, first alternative, followed through library packages only): what their own glibc
# root holds, so that the loader never mixes a library of the suite with an older one of ours.
library_closure() {
  local -A seen=()
  local queue=("$@") next dep
  while [ "${#queue[@]}" -gt 0 ]; do
    next=()
    while read -r dep; do
      [ -n "${seen[$dep]:-}" ] && continue
      seen[$dep]=1
      next+=("$dep")
    done < <(apt-cache "${APT_OPTS[@]}" depends --important "${queue[@]}" \
      | awk '/^ / { if (!alt && $2 ~ /^lib/ && $2 !~ /[:<]/) print $2; alt = ($1 ~ /^\|/) }')
    queue=("${next[@]}")
  done
  printf '%s\n' libc6 "${!seen[@]}" | sort -u
}

glibc() {
  [ "$#" -gt 0 ] || usage
  local extra=() p
  for p in "$@"; do [ "$p" = podman ] && extra+=(netavark); done
  install "$@" "${extra[@]}"
  mkdir -p "$PREFIX/glibc-bin"
  local libdir="" loader=""
  if ! system_glibc_ok; then
    command -v patchelf >/dev/null \
      || { log "patchelf not found: apt-get install patchelf (scripts/setup.sh does)" >&2; exit 1; }
    local libs
    mapfile -t libs < <(library_closure "$@")
    unpack "$PREFIX/glibc" "${libs[@]}"
    libdir=$(dirname "$(find "$PREFIX/glibc" -name 'libc.so.6' | head -n1)")
    loader=$(find "$PREFIX/glibc" -name 'ld-linux*.so.*' -type f | head -n1)
    [ -n "$libdir" ] && [ -n "$loader" ] || { log "no loader in $SUITE's libc6" >&2; exit 1; }
  fi
  local bin
  for p in "$@"; do
    bin="$PREFIX/root/usr/bin/$p"
    [ -x "$bin" ] || { log "$p: no $bin after unpacking" >&2; exit 1; }
    rm -f "$PREFIX/glibc-bin/$p"
    if [ -z "$loader" ]; then
      ln -s "$bin" "$PREFIX/glibc-bin/$p"
      continue
    fi
    cp "$bin" "$PREFIX/glibc-bin/$p"
    patchelf --set-interpreter "$loader" --force-rpath --set-rpath "$libdir" "$PREFIX/glibc-bin/$p"
  done
  log "runnable here: $(ls "$PREFIX/glibc-bin" | tr '\n' ' ')(in $PREFIX/glibc-bin)"
}

version() {
  local stamp="$PREFIX/stamps/${1:?usage: $0 $SUITE version PKG}"
  [ -e "$stamp" ] || { log "$1 is not unpacked in $PREFIX" >&2; exit 1; }
  # docker.io_28.5.2+dfsg4-5_amd64.deb -> 28.5.2+dfsg4-5 (an epoch is written %3a in the name)
  cut -d_ -f2 <"$stamp" | sed 's/%3a/:/'
}

case "${1:-}" in
  install) shift; install "$@" ;;
  glibc) shift; glibc "$@" ;;
  glibc-bin) echo "$PREFIX/glibc-bin" ;;
  bin) echo "$PREFIX/bin" ;;
  prefix) echo "$PREFIX" ;;
  has) [ -e "$PREFIX/stamps/${2:?usage: $0 $SUITE has PKG}" ] ;;
  version) version "${2:-}" ;;
  *) usage ;;
esac
