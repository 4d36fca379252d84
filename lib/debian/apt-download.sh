#!/usr/bin/env bash
# Download one Debian package (amd64) from a suite into the project's cache and print the .deb path.
#
# Usage: lib/debian/apt-download.sh SUITE PACKAGE [VERSION]
#        lib/debian/apt-download.sh --list SUITE REGEX
#   SUITE    bookworm, bookworm-backports, trixie, sid, experimental, ...
#   VERSION  exact version; default: the suite's candidate
#   --list   print "PACKAGE VERSION" for every package of SUITE whose whole name matches the
#            extended regular expression REGEX (one line per version the suite serves); downloads nothing
#
# Environment: GMEM_CACHE_DIR (lib/cache-dir.sh: default /var/cache/gmem-conformance when writable, else
#              <project>/.cache),
#              GMEM_DEBIAN_MIRROR (default http://deb.debian.org/debian)
#
# The host's apt configuration is never touched: apt runs with its own sources list, lists, cache and
# an empty dpkg status under <cache>/apt/<suite>; only `apt-get download` is used, nothing is
# installed or upgraded. A package already downloaded is printed without network access; a suite's
# package list is refreshed at most once every 6 hours.
set -euo pipefail

list=
if [[ ${1:-} == --list ]]; then list=1; shift; fi
suite=${1:?usage: apt-download.sh SUITE PACKAGE [VERSION] | --list SUITE REGEX}
pkg=${2:?usage: apt-download.sh SUITE PACKAGE [VERSION] | --list SUITE REGEX}
want=${3:-}
arch=amd64
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$root/lib/cache-dir.sh"
cache=$(gmem_cache_dir)
mirror=${GMEM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
aptdir=$cache/apt/$suite
debdir=$cache/debs
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf 'apt-download: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
safe() { printf '%s' "${1//:/%3a}"; }

mkdir -p "$debdir"
if [[ -z $list && -n $want ]]; then
  hit=$(ls "$debdir/${pkg}_$(safe "$want")_"*.deb 2>/dev/null | head -n1 || true)
  [[ -n $hit ]] && { printf '%s\n' "$hit"; exit 0; }
fi

mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/etc/preferences.d"
component=main
printf 'deb [arch=%s signed-by=%s] %s %s %s\n' "$arch" "$keyring" "$mirror" "$suite" "$component" >"$aptdir/sources.list"
: >"$aptdir/status"
opts=(
  -o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=-"
  -o "Dir::Etc::Preferences=$aptdir/etc/preferences" -o "Dir::Etc::PreferencesParts=$aptdir/etc/preferences.d"
  -o "Dir::State::Lists=$aptdir/lists" -o "Dir::State::status=$aptdir/status"
  -o "Dir::Cache=$aptdir/cache" -o "Dir::Cache::archives=$aptdir/cache/archives"
  -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o "Acquire::Languages=none"
  -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
)
[[ $(id -u) -eq 0 ]] && opts+=(-o "APT::Sandbox::User=root")

stamp=$aptdir/lists/.updated
if [[ ! -f $stamp || -n $(find "$stamp" -mmin +360 2>/dev/null) ]]; then
  log "updating the package list of $suite"
  apt-get "${opts[@]}" -q update >&2 || die "apt-get update for $suite failed"
  # apt-get update exits 0 even when it could fetch nothing: only a Packages index proves it worked
  compgen -G "$aptdir/lists/*_${suite}_main_binary-${arch}_Packages*" >/dev/null \
    || die "could not fetch the package list of $suite from $mirror (no network to Debian's archive?)"
  touch "$stamp"
fi
if [[ -n $list ]]; then
  names=$(apt-cache "${opts[@]}" pkgnames | grep -E "^(${pkg})\$" | sort || true)
  [[ -n $names ]] || exit 0
  # madison: "name | version | source"
  xargs apt-cache "${opts[@]}" madison <<<"$names" | awk -F' *[|] *' '{gsub(/^ +/, "", $1); print $1, $2}' | sort -u
  exit 0
fi
version=$want
if [[ -z $version ]]; then
  version=$(apt-cache "${opts[@]}" policy "$pkg:$arch" | awk '/Candidate:/ {print $2}')
  [[ -n $version && $version != '(none)' ]] || die "$suite serves no package $pkg for $arch"
fi
hit=$(ls "$debdir/${pkg}_$(safe "$version")_"*.deb 2>/dev/null | head -n1 || true)
if [[ -z $hit ]]; then
  log "downloading $pkg=$version from $suite"
  (cd "$debdir" && apt-get "${opts[@]}" -q download "$pkg:$arch=$version" >&2) || die "apt-get download $pkg=$version from $suite failed"
  hit=$(ls "$debdir/${pkg}_$(safe "$version")_"*.deb 2>/dev/null | head -n1 || true)
  [[ -n $hit ]] || die "no .deb for $pkg $version in $debdir after download"
fi
printf '%s\n' "$hit"
