#!/usr/bin/env bash
# Sourced by bench/run.sh and bench/determinism.sh: makes sure a compiled build with bench/ in it
# exists and sets $build to it. GMEM_BUILD=<dir> uses an already compiled directory as it is
# (e.g. a helper's .build-<name>); otherwise dist/ is bootstrapped like ./run.sh does, and
# recompiled when a bench/ source is newer (ci/bootstrap.sh only watches lib, tests and unit).
build=${GMEM_BUILD:-dist}
if [ "$build" = dist ]; then
  bash ci/bootstrap.sh
  if [ ! -f dist/bench/bench.js ] || [ -n "$(find bench -name '*.ts' -newer dist/.build-stamp -print -quit)" ]; then
    printf '# bench: compiling TypeScript (bench/ changed)\n' >&2
    npx --no-install tsc -p tsconfig.json >&2
    touch dist/.build-stamp
  fi
fi
if [ ! -f "$build/bench/bench.js" ]; then
  echo "bench: $build/bench/bench.js does not exist (compile with npx tsc -p tsconfig.json --outDir $build)" >&2
  exit 2
fi
