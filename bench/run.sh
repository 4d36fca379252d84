#!/usr/bin/env bash
# Benchmarks gmem-conformance on this machine and prints a table (ready for the README) plus a JSON
# file under bench/results/ (gitignored). Figures: hot ioctls in TS against the same loop in C
# (gcc -O2, compiled now), fresh-worker cost, listing time, suite wall time (full and without the
# serial cases) at -j 1/2/4, peak RSS of runner/workers/probes, and a profile of a full run.
# Every timing is repeated and reported as median (min, max). Takes ~10 minutes with the defaults.
#
#   bench/run.sh [--repeat N] [--jobs 1,2,4] [--only ioctl,list,worker,suite,rss,profile,cpu] [--selftests DIR] [--out FILE]
#   env: BENCH_REPEAT, BENCH_JOBS, BENCH_ONLY, BENCH_SELFTESTS (same as the options); GMEM_BUILD=<compiled dir>
#   --selftests DIR: guest_memfd_test and memfd_test built by bench/build-selftests.sh (printed DIR)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
source bench/build.sh
if [ ! -x /usr/bin/time ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  printf '# bench: installing Debian'"'"'s time (peak RSS of suite runs)\n' >&2
  apt-get install -y -qq time >&2 || printf '# bench: no /usr/bin/time: RSS from /proc only\n' >&2
fi
exec "$node" "$build/bench/bench.js" "$@"
