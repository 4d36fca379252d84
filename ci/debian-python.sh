#!/usr/bin/env bash
# Makes pure-Python Debian packages importable without installing them: downloads each PACKAGE from
# SUITE with lib/debian/apt-download.sh (a private apt state; the host's apt and dpkg are untouched),
# unpacks its dist-packages into the cache once, and prints a PYTHONPATH (directories joined by ":").
# The tests use it for the real validators and parsers of the ecosystems the suite exports to:
# lava-common + python3-voluptuous (LAVA's job and test definition schemas), python3-junitparser.
# Nothing of these packages is committed.
#
# Usage: ci/debian-python.sh SUITE PACKAGE...      e.g. ci/debian-python.sh sid lava-common python3-voluptuous
# Exit status: 0 printed, 1 a package could not be had (the reason is the last line on stderr).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
suite=${1:?usage: debian-python.sh SUITE PACKAGE...}
shift
[[ $# -gt 0 ]] || { echo "usage: debian-python.sh SUITE PACKAGE..." >&2; exit 1; }
. "$root/lib/cache-dir.sh"
cache=$(gmem_cache_dir)
paths=()
for pkg in "$@"; do
  deb=$("$root/lib/debian/apt-download.sh" "$suite" "$pkg")
  dest=$cache/python/$(basename "$deb" .deb)
  if [[ ! -d $dest/usr/lib/python3/dist-packages ]]; then
    rm -rf "$dest.tmp"
    mkdir -p "$dest.tmp"
    dpkg-deb -x "$deb" "$dest.tmp"
    [[ -d $dest.tmp/usr/lib/python3/dist-packages ]] || { echo "debian-python: $pkg has no Python modules (usr/lib/python3/dist-packages)" >&2; exit 1; }
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
  fi
  paths+=("$dest/usr/lib/python3/dist-packages")
done
(IFS=:; printf '%s\n' "${paths[*]}")
