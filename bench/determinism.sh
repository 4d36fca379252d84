#!/usr/bin/env bash
# Runs the whole suite N times in a row (default 5, DETERMINISM_RUNS or --runs) and checks that every
# instance gets the same verdict each time; prints the ids that differ with their verdicts and
# messages and exits 1 if there is any. Other options: -j N (default 2), -t/-x SEL, --keep DIR.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
source bench/build.sh
exec "$node" "$build/bench/determinism.js" "$@"
