#!/usr/bin/env bash
# Fetch Debian sid's linux-libc-dev (amd64) into the project's cache and print the unpacked tree.
#
# Usage: lib/uapi/fetch-headers.sh            -> prints <cache>/uapi/linux-libc-dev-<version>
#
# Environment:
#   UAPI_LIBC_DEV_VERSION  pin an exact Debian version (e.g. 7.2.13-1); default: the version
#                          recorded by the last unpinned fetch, or (first run) whatever sid serves
#   UAPI_REFRESH=1         ask sid again even though a recorded version is cached
#   UAPI_SUITE             Debian suite to fetch from (default: sid)
#   UAPI_CACHE_DIR         where the unpacked trees go (default: the suite's cache, lib/cache-dir.sh)
#   GMEM_DEBIAN_MIRROR, GMEM_CACHE_DIR   as for lib/debian/apt-download.sh, which downloads the .deb
#
# The download goes through lib/debian/apt-download.sh: a private apt state, only `apt-get download`,
# the host's apt configuration untouched. Idempotent: a version already unpacked is printed without
# any network.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/lib/cache-dir.sh"
cache=${UAPI_CACHE_DIR:-$(gmem_cache_dir)}
suite=${UAPI_SUITE:-sid}
pin=${UAPI_LIBC_DEV_VERSION:-}
pkg=linux-libc-dev

uapidir=$cache/uapi
record=$uapidir/$pkg.$suite.version   # the version the last unpinned fetch got from $suite

log() { printf 'fetch-headers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
safe() { printf '%s' "${1//:/%3a}"; }   # an epoch's ':' must not end up in a path
treeof() { printf '%s/%s-%s\n' "$uapidir" "$pkg" "$(safe "$1")"; }
complete() { [[ -f $(treeof "$1")/.complete ]]; }

# 1. Nothing to do when the wanted version is already unpacked.
if [[ -n $pin ]]; then
  if complete "$pin"; then treeof "$pin"; exit 0; fi
elif [[ -z ${UAPI_REFRESH:-} && -s $record ]]; then
  recorded=$(<"$record")
  if complete "$recorded"; then treeof "$recorded"; exit 0; fi
fi

# 2. The .deb: the pinned version, or the suite's candidate (recorded for later runs).
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (this script needs Debian's dpkg)"
mkdir -p "$uapidir"
deb=$("$root/lib/debian/apt-download.sh" "$suite" "$pkg" $pin) ||
  die "could not download $pkg${pin:+=$pin} from $suite (is that version still served? pin another with UAPI_LIBC_DEV_VERSION)"
version=$(dpkg-deb -f "$deb" Version)
[[ -z $pin || $version == "$pin" ]] || die "$deb holds version $version, expected $pin"
tree=$(treeof "$version")
if complete "$version"; then
  [[ -n $pin ]] || printf '%s\n' "$version" >"$record"
  printf '%s\n' "$tree"; exit 0
fi

# 3. Unpack, check, and mark complete.
rm -rf "$tree.tmp"
mkdir -p "$tree.tmp"
dpkg-deb -x "$deb" "$tree.tmp"
[[ -f $tree.tmp/usr/include/linux/kvm.h ]] || die "$deb has no usr/include/linux/kvm.h"
{
  printf 'Package: %s\nVersion: %s\nArchitecture: %s\nSuite: %s\nDeb: %s\n' \
    "$pkg" "$version" "$(dpkg-deb -f "$deb" Architecture)" "$suite" "$(basename "$deb")"
  printf 'SHA256: %s\n' "$(sha256sum "$deb" | cut -d' ' -f1)"
} >"$tree.tmp/.complete"
rm -rf "$tree"
mv "$tree.tmp" "$tree"
[[ -n $pin ]] || printf '%s\n' "$version" >"$record"
log "unpacked $pkg $version"
printf '%s\n' "$tree"
