#!/usr/bin/env bash
# Prints the path of the Node.js binary gmem-conformance runs on, fetching the pinned release first
# when that is the one to use. Called by ci/bootstrap.sh (so by run.sh, test.sh and the kselftest
# installer); the path is the only thing on stdout.
#
# Which node (GMEM_NODE):
#   unset, auto  the system's node (first on PATH) when it is at least the pinned version of ci/node.pin,
#                else the pinned release from the project's cache, fetched when missing
#   pinned       the pinned release, even when the system's node is newer
#   system       the system's node, whatever its version at or above the pin's major line (refused below it:
#                the code is compiled against that line's @types/node)
#   /path/node   that binary, same check as system
#
# Fetching uses only npm (`npm pack node-linux-<arch>@VERSION`, Debian's npm is enough; installed with
# Debian's nodejs when npm is missing and we are root), accepts the tarball only if its sha512 equals
# the integrity pinned in ci/node.pin, and unpacks it into <cache>/node/node-v<VERSION>-linux-<arch>/.
# Nothing outside the cache is replaced. The cache is the project's (lib/cache-dir.sh, the rule every
# script and lib/paths.ts share): GMEM_CACHE_DIR, else /var/cache/gmem-conformance when writable, else
# <project>/.cache.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)

log() { printf '# node: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

pin_field() { awk -v k="$1" '$1 == k { print $2; exit }' "$root/ci/node.pin"; }
version=$(pin_field version)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "ci/node.pin has no valid version line"
major=${version%%.*}

# "A.B.C" >= "X.Y.Z", numerically per field
version_ge() { [[ $(printf '%s\n%s\n' "$1" "$2" | sort -t. -k1,1n -k2,2n -k3,3n | head -n1) == "$2" ]]; }
# the version of a node binary without the leading v, or nothing when it does not run
node_version() { "$1" -p 'process.versions.node' 2>/dev/null || true; }

# a binary chosen by the user: it must run and be on the pinned major line or later
checked() {
  local bin=$1 what=$2 v
  v=$(node_version "$bin")
  [[ -n $v ]] || die "$what: $bin does not run"
  version_ge "$v" "$major.0.0" || die "$what: $bin is v$v; gmem-conformance needs Node.js >= $major (unset GMEM_NODE to use the pinned v$version)"
  printf '%s\n' "$bin"
}

case $(uname -m) in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) arch= ;;
esac

# the pinned release, from the cache or fetched into it
pinned() {
  [[ -n $arch ]] || die "no prebuilt Node.js for $(uname -m) in ci/node.pin: install Node.js >= $major and set GMEM_NODE=system"
  local integrity cache dir tmp tgz want got
  integrity=$(pin_field "linux-$arch")
  [[ $integrity == sha512-* ]] || die "ci/node.pin has no sha512 integrity for linux-$arch"
  . "$root/lib/cache-dir.sh"
  cache=$(gmem_cache_dir)
  dir=$cache/node/node-v$version-linux-$arch
  # the marker holds the integrity the tarball was checked against: a re-pinned tarball is fetched again
  if [[ -x $dir/bin/node && $(cat "$dir/.integrity" 2>/dev/null) == "$integrity" ]]; then
    printf '%s\n' "$dir/bin/node"
    return
  fi
  mkdir -p "$cache/node"
  # two bootstraps at once (parallel CI jobs sharing /var/cache) fetch once
  exec 9>"$cache/node/.lock"
  flock 9
  if [[ -x $dir/bin/node && $(cat "$dir/.integrity" 2>/dev/null) == "$integrity" ]]; then
    printf '%s\n' "$dir/bin/node"
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1 ||
      die "npm is needed to fetch Node.js v$version (install npm, or set GMEM_NODE=system with Node.js >= $major)"
    # Debian's npm only serves to fetch the pinned release; its nodejs comes along as npm's dependency
    log "npm not found: installing Debian's nodejs and npm to fetch Node.js v$version"
    # apt's progress (one line per package, ~300 for npm) is dropped; its errors stay on stderr
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; } >/dev/null ||
      die "Debian's nodejs and npm could not be installed"
  fi
  log "fetching Node.js v$version (npm package node-linux-$arch) into $cache/node"
  tmp=$(mktemp -d "$cache/node/.fetch.XXXXXX")
  # expanded now: tmp is local to this function, the trap runs after it returned
  trap "rm -rf '$tmp'" EXIT
  # npm pack prints the tarball's name last; its progress and notices go to stderr
  tgz=$(cd "$tmp" && npm pack "node-linux-$arch@$version" --pack-destination "$tmp" --loglevel=error --no-fund --no-audit | tail -n1) ||
    die "npm pack node-linux-$arch@$version failed (network, registry or TLS trust: see npm's error above)"
  [[ -f $tmp/$tgz ]] || die "npm pack node-linux-$arch@$version produced no tarball"
  # sha512 in hex on both sides: coreutils only (no openssl or xxd in a minimal Debian)
  want=$(printf '%s' "${integrity#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
  got=$(sha512sum "$tmp/$tgz" | cut -d' ' -f1)
  [[ $got == "$want" ]] || die "node-linux-$arch-$version.tgz does not match the integrity pinned in ci/node.pin (got sha512 $got)"
  mkdir "$tmp/x"
  tar -xzf "$tmp/$tgz" -C "$tmp/x"
  [[ $(node_version "$tmp/x/package/bin/node") == "$version" ]] || die "the unpacked node-linux-$arch@$version does not run as v$version"
  printf '%s\n' "$integrity" >"$tmp/x/package/.integrity"
  rm -rf "$dir"
  mv "$tmp/x/package" "$dir"
  log "Node.js v$version is $dir/bin/node"
  printf '%s\n' "$dir/bin/node"
}

choice=${GMEM_NODE:-auto}
case $choice in
  auto)
    sys=$(command -v node 2>/dev/null || true)
    if [[ -n $sys ]]; then
      v=$(node_version "$sys")
      if [[ -n $v ]] && version_ge "$v" "$version"; then printf '%s\n' "$sys"; exit 0; fi
    fi
    pinned ;;
  pinned) pinned ;;
  system)
    sys=$(command -v node 2>/dev/null) || die "GMEM_NODE=system but there is no node on PATH"
    checked "$sys" "GMEM_NODE=system" ;;
  */*)
    [[ -x $choice ]] || die "GMEM_NODE=$choice is not an executable"
    checked "$choice" "GMEM_NODE" ;;
  *) die "GMEM_NODE must be auto, pinned, system or a path to a node binary (got \"$choice\")" ;;
esac
