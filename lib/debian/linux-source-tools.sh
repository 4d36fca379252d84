#!/usr/bin/env bash
# Makes the kernel's own test tooling from Debian's linux-source package available in the cache —
# tools/testing/kunit (kunit.py, the KTAP parser) and tools/testing/selftests/{run_kselftest.sh,kselftest/}
# (the kselftest runner) — and prints the directory holding tools/. Nothing of it is committed.
#
# Usage: lib/debian/linux-source-tools.sh [SUITE [SOURCE-PACKAGE]]   (default: sid linux-source-7.2)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=${1:-sid}
pkg=${2:-linux-source-7.2}
deb=$("$here/apt-download.sh" "$suite" "$pkg")
dest=$(dirname "$(dirname "$deb")")/linux-source-tools/$(basename "$deb" .deb)
if [[ ! -f $dest/tools/testing/kunit/kunit.py || ! -f $dest/tools/testing/selftests/kselftest/runner.sh ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './usr/src/linux-source-*.tar.*'
  tarball=$(ls "$tmp"/usr/src/linux-source-*.tar.* | head -n1)
  top=$(basename "$tarball"); top=${top%%.tar.*}
  mkdir -p "$tmp/out"
  tar -x -f "$tarball" -C "$tmp/out" --strip-components=1 "$top/tools/testing/kunit" \
    "$top/tools/testing/selftests/run_kselftest.sh" "$top/tools/testing/selftests/kselftest"
  rm -rf "$dest"
  mkdir -p "$(dirname "$dest")"
  mv "$tmp/out" "$dest"
fi
printf '%s\n' "$dest"
