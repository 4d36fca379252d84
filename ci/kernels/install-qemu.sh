#!/usr/bin/env bash
# Installs what booting candidate kernels needs, when it is missing: qemu-system-x86 (from
# bookworm-backports on a Debian 12 host: 10.0.x, whose TCG exposes SVM with -cpu max), busybox-static
# (the guest's /init), kmod (depmod for the unpacked kernels), xz-utils and zstd (compressed modules).
# Idempotent and quiet when everything is there; prints the qemu-system-x86_64 path on stdout.
#
# The host's apt configuration is not modified: bookworm-backports comes from a sources file of the
# project's own under <cache>/apt/host, and ci/kernels/apt-preferences pins it to priority 100, so
# only qemu-system-x86 (asked for by name) and whatever it strictly needs come from backports.
# Exit status: 0 installed/present, 1 could not install (the reason is the last line on stderr).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
log() { printf 'install-qemu: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

qemu_ok() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 || return 1
  local v; v=$(qemu-system-x86_64 --version | sed -n '1s/.*version \([0-9]*\)\..*/\1/p')
  [[ -n $v && $v -ge 8 ]]
}
static_busybox() { [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1; }
tools_ok() { static_busybox && command -v depmod >/dev/null && command -v xz >/dev/null && command -v zstd >/dev/null; }

if qemu_ok && tools_ok; then command -v qemu-system-x86_64; exit 0; fi
[[ $(id -u) -eq 0 ]] || die "qemu-system-x86 (>= 8), busybox-static, kmod, xz-utils and zstd are needed and installing them needs root"
command -v apt-get >/dev/null || die "no apt-get: install qemu-system-x86 (>= 8), busybox-static, kmod, xz-utils and zstd by hand"

. "$root/lib/cache-dir.sh"
cache=$(gmem_cache_dir)
mirror=${GMEM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
export DEBIAN_FRONTEND=noninteractive

# only what is missing is asked for, so nothing already installed gets upgraded
pkgs=()
static_busybox || pkgs+=(busybox-static)
command -v depmod >/dev/null || pkgs+=(kmod)
command -v xz >/dev/null || pkgs+=(xz-utils)
command -v zstd >/dev/null || pkgs+=(zstd)
opts=(-o "Dir::Etc::Preferences=$here/apt-preferences")
if ! qemu_ok; then
  if [[ $codename == bookworm ]]; then
    # the host's sources plus bookworm-backports, in a parts directory of the project's own
    parts=$cache/apt/host/sources.list.d
    mkdir -p "$parts"
    find "$parts" -mindepth 1 -delete
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
      [[ -e $f ]] && ln -s "$f" "$parts/"
    done
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" >"$parts/gmem-bookworm-backports.sources"
    opts+=(-o "Dir::Etc::SourceParts=$parts")
    pkgs+=(qemu-system-x86/bookworm-backports)
  else
    pkgs+=(qemu-system-x86)
  fi
fi
log "installing ${pkgs[*]}"
apt-get "${opts[@]}" -q update >&2 || log "apt-get update reported errors (going on with the lists it has)"
# apt does not take a dependency from a pinned-down suite by itself: when one needs the backports
# version ("Depends: X (= v) but w is to be installed"), ask for X/bookworm-backports too (bounded).
for attempt in 1 2 3 4 5 6; do
  if out=$(apt-get "${opts[@]}" -y -q install --no-install-recommends "${pkgs[@]}" 2>&1); then
    printf '%s\n' "$out" >&2; break
  fi
  more=$(printf '%s\n' "$out" | sed -n 's/.*Depends: \([^ ]*\) (.*) but .* is to be installed.*/\1/p' | sort -u)
  [[ $codename == bookworm && -n $more && $attempt -lt 6 ]] || { printf '%s\n' "$out" >&2; die "apt-get install ${pkgs[*]} failed"; }
  for m in $more; do pkgs+=("$m/bookworm-backports"); done
  log "also from bookworm-backports: $more"
done
qemu_ok || die "qemu-system-x86_64 is still missing or older than 8 after the install"
static_busybox || die "/bin/busybox is not the static busybox after installing busybox-static"
command -v qemu-system-x86_64
