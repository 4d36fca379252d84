#!/usr/bin/env bash
# Installs what building a kernel from source needs, when it is missing: make, gcc, flex, bison, bc,
# libelf-dev, libssl-dev, cpio, xz-utils, kmod (depmod for modules_install). Only the missing ones
# are asked for by name, so nothing already installed is upgraded. Idempotent and quiet when all is
# there. Exit status: 0 present/installed, 1 could not install (the reason is the last stderr line).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
log() { printf 'install-build-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

pkgs=()
command -v make >/dev/null || pkgs+=(make)
command -v gcc >/dev/null || pkgs+=(gcc libc6-dev)
command -v flex >/dev/null || pkgs+=(flex)
command -v bison >/dev/null || pkgs+=(bison)
command -v bc >/dev/null || pkgs+=(bc)
command -v cpio >/dev/null || pkgs+=(cpio)
command -v xz >/dev/null || pkgs+=(xz-utils)
command -v depmod >/dev/null || pkgs+=(kmod)
[[ -f /usr/include/gelf.h ]] || pkgs+=(libelf-dev)
[[ -f /usr/include/openssl/opensslv.h ]] || pkgs+=(libssl-dev)
[[ ${#pkgs[@]} -eq 0 ]] && exit 0
[[ $(id -u) -eq 0 ]] || die "building a kernel needs ${pkgs[*]}, and installing them needs root"
command -v apt-get >/dev/null || die "no apt-get: install ${pkgs[*]} by hand"
log "installing ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; } >&2 || die "apt-get install ${pkgs[*]} failed"
