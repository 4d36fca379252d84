#!/usr/bin/env bash
# Installs gmem-conformance as a kselftest collection, so it runs the way kselftest collections do:
#   DESTDIR/gmem_conformance/run_gmem_conformance.sh   the test (KTAP out, exit 0/1/4)
#   DESTDIR/gmem_conformance/settings                  timeout=… for run_kselftest.sh
#   DESTDIR/gmem_conformance/suite/                    the compiled suite, its fixtures and its runtime
#                                                      npm dependencies
#   DESTDIR/gmem_conformance/node/                     the pinned Node.js release (ci/node.pin), so the
#                                                      target needs no Node.js of its own (--node system: none)
#   DESTDIR/kselftest-list.txt                         gains the line gmem_conformance:run_gmem_conformance.sh
#
# DESTDIR is usually a kselftest install (make -C tools/testing/selftests install INSTALL_PATH=DESTDIR,
# or an unpacked kselftest tarball), which holds run_kselftest.sh; then
#   DESTDIR/run_kselftest.sh -c gmem_conformance
# runs the suite, its KTAP prefixed with "# " under a TAP 13 line "ok N selftests: gmem_conformance:
# run_gmem_conformance.sh". Any other directory works too; run_gmem_conformance.sh also runs by itself.
#
# Usage: ci/kselftest/install.sh [--build DIR] [--node pinned|system] DESTDIR
#   --build DIR    the compiled tree to install (holding lib/ and tests/); default: dist/, compiled
#                  first by ci/bootstrap.sh when a source changed
#   --node pinned  (default) copy the pinned release into the collection (~120 MB; fetched into the
#                  cache by ci/node.sh when missing): kselftest trees are copied to boards and CI
#                  hosts whose distribution node is older than the suite needs (Debian 12's is 18)
#   --node system  copy none: the target's own node (GMEM_NODE, else PATH) runs it, if it is at least
#                  the pinned major line
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
usage="usage: ci/kselftest/install.sh [--build DIR] [--node pinned|system] DESTDIR"
build=
with_node=pinned
while [[ ${1:-} == --* ]]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift 2 ;;
    --node) with_node=${2:?--node needs pinned or system}; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[[ $with_node == pinned || $with_node == system ]] || { echo "install.sh: --node is pinned or system, not $with_node" >&2; exit 2; }
dest=${1:?$usage}
[[ $# -eq 1 ]] || { echo "$usage" >&2; exit 2; }
if [[ -z $build ]]; then
  node=$(bash "$root/ci/bootstrap.sh")
  build=$root/dist
else
  node=$(bash "$root/ci/node.sh")
fi
# npm ls below runs on it too, not on an older system node
PATH=$(dirname "$node"):$PATH
build=$(cd "$build" && pwd)
[[ -f $build/lib/cli/main.js && -d $build/tests ]] || { echo "install.sh: $build is not a compiled suite (no lib/cli/main.js or tests/)" >&2; exit 2; }
[[ -d $root/node_modules ]] || { echo "install.sh: no node_modules: run npm ci (or ./run.sh --version) first" >&2; exit 2; }

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
coll=$dest/gmem_conformance
suite=$coll/suite
rm -rf "$coll"
mkdir -p "$suite/dist" "$suite/node_modules"
install -m 0755 "$here/run_gmem_conformance.sh" "$coll/run_gmem_conformance.sh"
install -m 0644 "$here/settings" "$coll/settings"
cp -a "$build/lib" "$build/tests" "$suite/dist/"
# the probe-program interpreter (ci/bootstrap.sh builds it in dist/; a --build tree may lack it): static, so the
# target needs no compiler and no particular libc
exe=$suite/dist/lib/harness/probe-exec
if [[ ! -x $exe ]]; then
  command -v gcc >/dev/null || { echo "install.sh: $build has no lib/harness/probe-exec and there is no gcc to build it" >&2; exit 1; }
  gcc -O2 -static -o "$exe" "$root/lib/harness/probe-exec.c" 2>/dev/null || gcc -O2 -o "$exe" "$root/lib/harness/probe-exec.c"
fi
cp -a "$root/package.json" "$root/fixtures" "$root/data" "$suite/"

# the runtime dependency closure only (no TypeScript, no browser): what `npm ls --omit=dev` lists,
# minus the root's own devDependencies that show up there as optional peers
dev=$(cd "$root" && node -p 'Object.keys(require("./package.json").devDependencies ?? {}).join("\n")')
(cd "$root" && npm ls --omit=dev --all --parseable 2>/dev/null || true) \
  | sed -n "s|^$root/node_modules/||p" \
  | awk -F/ '{ print ($1 ~ /^@/) ? $1 "/" $2 : $1 }' | sort -u \
  | while read -r pkg; do
      grep -qxF "$pkg" <<<"$dev" && continue
      mkdir -p "$suite/node_modules/$(dirname "$pkg")"
      cp -a "$root/node_modules/$pkg" "$suite/node_modules/$pkg"
    done
[[ -d $suite/node_modules/koffi ]] || { echo "install.sh: the runtime dependencies were not copied (npm ls found no koffi)" >&2; exit 1; }
if [[ $with_node == pinned ]]; then
  # the release exactly as ci/node.sh checked and unpacked it (a system node may need shared libraries
  # of its distribution, e.g. Debian's libnode, so it is never the one copied)
  pinned=$(GMEM_NODE=pinned bash "$root/ci/node.sh")
  mkdir -p "$coll/node/bin"
  cp -a "$pinned" "$coll/node/bin/node"
  cp -a "$(dirname "$pinned")/../LICENSE" "$coll/node/" 2>/dev/null || true
fi

line=gmem_conformance:run_gmem_conformance.sh
touch "$dest/kselftest-list.txt"
grep -qxF "$line" "$dest/kselftest-list.txt" || printf '%s\n' "$line" >>"$dest/kselftest-list.txt"
echo "installed the gmem_conformance collection in $coll ($(du -sh "$coll" | cut -f1))" >&2
if [[ ! -x $dest/run_kselftest.sh ]]; then
  echo "note: $dest has no run_kselftest.sh; run $coll/run_gmem_conformance.sh directly, or install into a kselftest install directory" >&2
fi
