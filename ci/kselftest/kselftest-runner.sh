#!/usr/bin/env bash
# Makes the kernel's own kselftest runner available in the cache: run_kselftest.sh and kselftest/
# (runner.sh, ktap_helpers.sh, prefix.pl …) from tools/testing/selftests of Debian's linux-source
# package, and prints the directory holding them. Nothing of it is committed: the test of the
# kselftest collection (unit/export-kselftest.test.ts) copies them beside an installed collection and
# runs the real run_kselftest.sh.
#
# Usage: ci/kselftest/kselftest-runner.sh [SUITE [SOURCE-PACKAGE]]   (default: sid linux-source-7.2)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
suite=${1:-sid}
pkg=${2:-linux-source-7.2}
deb=$("$root/lib/debian/apt-download.sh" "$suite" "$pkg")
dest=$(dirname "$(dirname "$deb")")/kselftest-runner/$(basename "$deb" .deb)
if [[ ! -f $dest/run_kselftest.sh || ! -f $dest/kselftest/runner.sh ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './usr/src/linux-source-*.tar.*'
  tarball=$(ls "$tmp"/usr/src/linux-source-*.tar.* | head -n1)
  top=$(basename "$tarball"); top=${top%%.tar.*}
  mkdir -p "$tmp/out"
  tar -x -f "$tarball" -C "$tmp/out" --strip-components=4 \
    "$top/tools/testing/selftests/run_kselftest.sh" "$top/tools/testing/selftests/kselftest"
  rm -rf "$dest"
  mkdir -p "$(dirname "$dest")"
  mv "$tmp/out" "$dest"
fi
printf '%s\n' "$dest"
