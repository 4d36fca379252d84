#!/usr/bin/env bash
# Builds the two kernel selftests bench/cpu.ts compares the suite with — guest_memfd_test and memfd_test —
# from an unpacked linux-source tree, out of tree: headers with `make O=` and the tests with OUTPUT=, so the
# (shared, cached) source tree is only read. Prints the output directory (holding both binaries).
#
#   bench/build-selftests.sh [SOURCE-TREE] [OUT-DIR]
#   default tree: the unpacked Debian linux-source-7.2 under <cache>/kernel-src (lib/cache-dir.sh)
#   (lib/debian fetches the deb; ENVIRONMENT.md in shared/ has the timings); default out: /tmp/gmem-selftests
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/../lib/cache-dir.sh"
# a tree `kernels build` unpacked (kernel-src/linux-source-7.2_<version>), or one unpacked by hand beside it
src=${1:-$(ls -d "$(gmem_cache_dir)"/kernel-src/linux-source-7.2_* "$(gmem_cache_dir)"/kernel-src/*/linux-source-7.2 2>/dev/null | grep -v '\.tmp-' | head -1 || true)}
out=${2:-/tmp/gmem-selftests}
if [ -z "$src" ] || [ ! -f "$src/Makefile" ]; then
  echo "build-selftests: no linux-source tree (give one: bench/build-selftests.sh TREE)" >&2
  exit 2
fi
mkdir -p "$out/headers" "$out/kvm" "$out/memfd"
[ -d "$out/headers/usr/include/linux" ] || make -s -C "$src" O="$out/headers" headers >&2
inc="-isystem $out/headers/usr/include"
make -s -C "$src/tools/testing/selftests/memfd" OUTPUT="$out/memfd" KHDR_INCLUDES="$inc" "$out/memfd/memfd_test" >&2
make -s -j"$(nproc)" -C "$src/tools/testing/selftests/kvm" OUTPUT="$out/kvm" KHDR_INCLUDES="$inc" \
  "$out/kvm/guest_memfd_test" >&2
echo "$out"
