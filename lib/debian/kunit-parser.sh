#!/usr/bin/env bash
# Make the kernel's own KTAP parser (tools/testing/kunit from Debian's linux-source package) available
# in the cache, and print the path of kunit.py. Nothing of it is committed: it is fetched on demand.
#
# Usage: lib/debian/kunit-parser.sh [SUITE [SOURCE-PACKAGE]]   (default: sid linux-source-7.2)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=${1:-sid}
pkg=${2:-linux-source-7.2}
deb=$("$here/apt-download.sh" "$suite" "$pkg")
dest=$(dirname "$(dirname "$deb")")/kunit/$(basename "$deb" .deb)
if [[ ! -f $dest/tools/testing/kunit/kunit.py ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './usr/src/linux-source-*.tar.*'
  tarball=$(ls "$tmp"/usr/src/linux-source-*.tar.* | head -n1)
  top=$(basename "$tarball"); top=${top%%.tar.*}
  mkdir -p "$dest.tmp"
  tar -x -f "$tarball" -C "$dest.tmp" --strip-components=1 "$top/tools/testing/kunit"
  rm -rf "$dest"; mv "$dest.tmp" "$dest"
fi
printf '%s\n' "$dest/tools/testing/kunit/kunit.py"
