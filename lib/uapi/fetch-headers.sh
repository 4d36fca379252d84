#!/usr/bin/env bash
# Fetch Debian sid's linux-libc-dev (amd64) into the project's cache and print the unpacked tree.
#
# Usage: lib/uapi/fetch-headers.sh            -> prints .cache/uapi/linux-libc-dev-<version>
#
# Environment:
#   UAPI_LIBC_DEV_VERSION  pin an exact Debian version (e.g. 7.2.13-1); default: the version
#                          recorded by the last unpinned fetch, or (first run) whatever sid serves
#   UAPI_REFRESH=1         ask sid again even though a recorded version is cached
#   UAPI_SUITE             Debian suite to fetch from (default: sid)
#   UAPI_MIRROR            archive URL (default: http://deb.debian.org/debian)
#   UAPI_CACHE_DIR         cache root (default: <project>/.cache)
#
# The host's apt configuration is never touched: apt runs with a sources list, package lists and
# package cache of its own under <cache>/apt/, and only `apt-get download` is used (nothing is
# installed or upgraded). Idempotent: a version already unpacked is printed without any network.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${UAPI_CACHE_DIR:-$root/.cache}
suite=${UAPI_SUITE:-sid}
mirror=${UAPI_MIRROR:-http://deb.debian.org/debian}
pin=${UAPI_LIBC_DEV_VERSION:-}
pkg=linux-libc-dev
arch=amd64

aptdir=$cache/apt/$suite
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

for tool in apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || die "$tool not found (this script needs Debian's apt and dpkg)"
done
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r $keyring ]] || die "$keyring missing: apt-get install debian-archive-keyring"

# 2. A private apt configuration: its own sources list, lists, cache and status.
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/etc/preferences.d" \
         "$aptdir/etc/apt.conf.d" "$uapidir"
cat >"$aptdir/sources.list" <<EOF
deb [arch=$arch signed-by=$keyring] $mirror $suite main
EOF
: >"$aptdir/status"   # an empty dpkg status: the host's installed packages play no part
apt_opts=(
  -o "Dir::Etc::SourceList=$aptdir/sources.list"
  -o "Dir::Etc::SourceParts=-"
  -o "Dir::Etc::Preferences=$aptdir/etc/preferences"
  -o "Dir::Etc::PreferencesParts=$aptdir/etc/preferences.d"
  -o "Dir::State::Lists=$aptdir/lists"
  -o "Dir::State::status=$aptdir/status"
  -o "Dir::Cache=$aptdir/cache"
  -o "Dir::Cache::archives=$aptdir/cache/archives"
  -o "APT::Architecture=$arch"
  -o "APT::Architectures::=$arch"
  -o "Acquire::Languages=none"
  -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
  -o "APT::Get::List-Cleanup=false"
)
# apt drops to the _apt user for downloads; it cannot write into a root-owned project tree.
[[ $(id -u) -eq 0 ]] && apt_opts+=(-o "APT::Sandbox::User=root")

log "updating the package list of $suite from $mirror (private apt state in $aptdir)"
apt-get "${apt_opts[@]}" -q update >&2 ||
  die "apt-get update for $suite failed (on NO_PUBKEY: $keyring lacks $suite's signing key; a newer debian-archive-keyring, e.g. from bookworm-backports, has it)"

# 3. Which version: the pinned one, or sid's candidate (recorded for later runs).
if [[ -n $pin ]]; then
  version=$pin
else
  version=$(apt-cache "${apt_opts[@]}" policy "$pkg:$arch" | awk '/Candidate:/ {print $2}')
  [[ -n $version && $version != '(none)' ]] || die "$suite serves no $pkg for $arch"
fi
tree=$(treeof "$version")
if complete "$version"; then
  [[ -n $pin ]] || printf '%s\n' "$version" >"$record"
  printf '%s\n' "$tree"; exit 0
fi

# 4. Download (into the private archive cache) and unpack.
debdir=$aptdir/cache/archives
deb=$(ls "$debdir"/"${pkg}_$(safe "$version")_"*.deb 2>/dev/null | head -n1 || true)
if [[ -z $deb ]]; then
  log "downloading $pkg=$version"
  (cd "$debdir" && apt-get "${apt_opts[@]}" -q download "$pkg:$arch=$version" >&2) ||
    die "apt-get download $pkg=$version failed (is that version still served by $suite? pin another with UAPI_LIBC_DEV_VERSION)"
  deb=$(ls "$debdir"/"${pkg}_$(safe "$version")_"*.deb 2>/dev/null | head -n1 || true)
  [[ -n $deb ]] || die "apt-get download reported success but no .deb for $version is in $debdir"
fi
got=$(dpkg-deb -f "$deb" Version)
[[ $got == "$version" ]] || die "$deb holds version $got, expected $version"

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
