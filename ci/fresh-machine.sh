#!/usr/bin/env bash
# The README's promise tested for real: in a freshly debootstrapped Debian 12 (bookworm, minbase: no
# Node.js, no npm, no compiler), a clean copy of this checkout runs `./run.sh` with nothing installed
# by hand, under chroot with the host's /dev (so /dev/kvm), /proc and /sys. Then, unless --no-kselftest,
# the kselftest collection is installed in that root and run in a second, untouched copy of the
# minimal root, as a kselftest target would be.
#
# Usage: ci/fresh-machine.sh [--rebuild-root] [--keep] [--no-kselftest] [-- RUN_ARGS...]
#   RUN_ARGS       arguments for ./run.sh inside the root (default: -j 2)
#   --rebuild-root build the root tarball again (it is cached, see below)
#   --keep         keep the work directory (printed) instead of removing it
# Environment: GMEM_CACHE_DIR (cache rule of lib/cache-dir.sh), GMEM_DEBIAN_MIRROR (default
#              http://deb.debian.org/debian), GMEM_FRESH_KSELFTEST_ARGS (default: -t gmem.create -j 2)
#
# The minimal root is built once with debootstrap (installed from Debian when missing) and kept as
# <cache>/fresh-machine/bookworm-minbase-<arch>.tar.gz; each run unpacks it anew. Inside, everything
# comes from the network as on a new machine: Debian's packages (apt), the npm dependencies and the
# pinned Node.js (npm registry). Mounts live in a private mount namespace, so they disappear with it
# whatever happens, and the work directory is removed only after they are gone.
#
# Output: progress and the run's own output on stderr/stdout; the last line is
#   fresh-machine: run.sh exit N[, kselftest target exit M] (node vX.Y.Z, T s)
# Exit status: run.sh's (kselftest's 0, 1 or 4) when both checks give one;
#   3  the check could not be set up: not root, no debootstrap, debootstrap failed (no network)
#   5  the fresh root was there but the promise failed: run.sh ended without a complete run and a
#      kselftest status, or install.sh failed, or the installed collection did not exit 0/1/4
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)

log() { printf 'fresh-machine: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 3; }
# the project failed on the fresh machine (as opposed to the check not being possible)
fail() { log "FAILED: $*"; echo "fresh-machine: FAILED: $* ($((SECONDS - t0)) s)"; exit 5; }

rebuild=
keep=
kselftest=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --rebuild-root) rebuild=1; shift ;;
    --keep) keep=1; shift ;;
    --no-kselftest) kselftest=; shift ;;
    --) shift; break ;;
    *) die "unknown option $1 (usage: ci/fresh-machine.sh [--rebuild-root] [--keep] [--no-kselftest] [-- RUN_ARGS...])" ;;
  esac
done
run_args=("$@")
[[ ${#run_args[@]} -gt 0 ]] || run_args=(-j 2)
read -r -a ks_args <<<"${GMEM_FRESH_KSELFTEST_ARGS:--t gmem.create -j 2}"

[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chroot, mounts)"
command -v unshare >/dev/null && command -v chroot >/dev/null || die "needs unshare and chroot (util-linux, coreutils)"
. "$root/lib/cache-dir.sh"
cache=$(gmem_cache_dir)
mirror=${GMEM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
tarball=$cache/fresh-machine/bookworm-minbase-$arch.tar.gz
mkdir -p "$cache/fresh-machine"
t0=$SECONDS
stamp() { printf '%s s' "$((SECONDS - t0))"; }

# --- the minimal root, built once ---------------------------------------------------------------
if [[ -n $rebuild || ! -s $tarball ]]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >/dev/null || die "debootstrap could not be installed"
  fi
  build=$(mktemp -d "$cache/fresh-machine/.build.XXXXXX")
  trap "rm -rf '$build'" EXIT
  log "debootstrap --variant=minbase bookworm ($mirror)"
  debootstrap --variant=minbase --arch="$arch" bookworm "$build/root" "$mirror" >"$build/debootstrap.log" 2>&1 ||
    { tail -n 20 "$build/debootstrap.log" >&2; die "debootstrap failed (network? see above)"; }
  # a new machine's apt state: no package lists yet, no downloaded packages
  rm -rf "$build/root/var/lib/apt/lists/"* "$build/root/var/cache/apt/archives/"*.deb
  tar -C "$build/root" -czf "$build/root.tar.gz" .
  mv "$build/root.tar.gz" "$tarball"
  rm -rf "$build"
  trap - EXIT
  log "root cached as $tarball ($(du -h "$tarball" | cut -f1), $((SECONDS - t0)) s)"
fi

# --- a run in a new copy ------------------------------------------------------------------------
work=$(mktemp -d /var/tmp/gmem-fresh-machine.XXXXXX)
cleanup() { if [[ -n $keep ]]; then log "kept $work"; else rm -rf --one-file-system "$work"; fi; }
trap cleanup EXIT
unpack() {
  mkdir -p "$1"
  tar -C "$1" -xzf "$tarball"
  cp /etc/resolv.conf "$1/etc/resolv.conf"
  # the site's own certificate authorities (e.g. a TLS-inspecting egress proxy's), as any machine on
  # this network has them: in place before ca-certificates is installed inside, whose hook adds them
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    mkdir -p "$1/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"
  fi
  # package installs must not start services in the chroot
  printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
  chmod 0755 "$1/usr/sbin/policy-rc.d"
}
machine=$work/machine
unpack "$machine"
for bin in node nodejs npm; do
  [[ -z $(chroot "$machine" /bin/sh -c "command -v $bin" 2>/dev/null) ]] || die "the fresh root has $bin already"
done
# a clean checkout: the files git knows (tracked, and new ones not ignored), as they are in the
# working tree; no node_modules, dist or cache
project=/opt/gmem-conformance
mkdir -p "$machine$project"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -C "$machine$project" -xf -
log "clean copy of $root in $machine$project ($(du -sh "$machine$project" | cut -f1))"

# the environment inside: a login shell's, plus the site's network settings when the host has them
# (proxies; NODE_EXTRA_CA_CERTS, since the official Node.js builds trust only their own CA list)
site_env=()
for v in NODE_EXTRA_CA_CERTS http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [[ -n ${!v:-} ]] && site_env+=("$v=${!v}")
done

# Runs a command in the chroot, /dev, /proc and /sys bound, /tmp a new tmpfs, in a mount namespace of
# its own (the mounts go when it ends, before the work directory is removed)
in_root() {
  local dir=$1; shift
  unshare -m --propagation private bash -c '
    set -e
    r=$1; shift
    mount --rbind /dev "$r/dev"
    mount -t proc proc "$r/proc"
    mount --rbind /sys "$r/sys"
    mount -t tmpfs tmpfs "$r/tmp"
    exec chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
  ' in_root "$dir" "${site_env[@]}" "$@"
}

log "./run.sh ${run_args[*]} in the fresh root ($(stamp))"
status=0
in_root "$machine" bash -c 'cd "$0" && ./run.sh "$@" -o results/fresh.jsonl' "$project" "${run_args[@]}" || status=$?
# what the suite ran on: the results file's run record names the runtime
results=$machine$project/results/fresh.jsonl
version=$(sed -n '1s/.*"node":"\([^"]*\)".*/\1/p' "$results" 2>/dev/null)
summary="run.sh exit $status"
# a 1 from a failed bootstrap (npm, apt) is not the suite's 1: only a run that wrote its end record counts
end=$(tail -n1 "$results" 2>/dev/null | sed -n 's/.*"type":"end".*"exitCode":\([0-9]*\).*/\1/p')
if [[ $end != "$status" ]] || ! [[ $status =~ ^[014]$ ]]; then
  fail "run.sh exit $status without a complete run (results end record: ${end:-none})"
fi
# Debian's nodejs comes in as npm's dependency (npm fetched the pinned release); it is not what ran
log "run.sh exit $status after $(stamp); the suite ran on Node.js $version; on the root's PATH: $(in_root "$machine" /bin/sh -c 'command -v node && node --version' 2>/dev/null | tr '\n' ' ')"

ks=0
if [[ -n $kselftest ]]; then
  log "kselftest collection: install.sh in the root, run in an untouched copy of the minimal root ($(stamp))"
  in_root "$machine" bash -c 'cd "$0" && ci/kselftest/install.sh /opt/kselftest' "$project" || fail "ci/kselftest/install.sh failed in the fresh root"
  target=$work/target
  unpack "$target"
  cp -a "$machine/opt/kselftest" "$target/opt/"
  in_root "$target" /bin/sh -c '! command -v node && ! command -v npm' >/dev/null || die "the target root has a node or npm"
  in_root "$target" /opt/kselftest/gmem_conformance/run_gmem_conformance.sh "${ks_args[@]}" || ks=$?
  summary+=", kselftest target exit $ks"
  case $ks in 0|1|4) ;; *) fail "the installed collection exited $ks on the target (kselftest: 0, 1 or 4)" ;; esac
fi
echo "fresh-machine: $summary (node $version, $((SECONDS - t0)) s)"
exit "$status"
