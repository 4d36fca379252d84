#!/usr/bin/env bash
# Sourced by bench/run.sh and bench/determinism.sh: makes sure a compiled build with bench/ in it
# exists and sets $build to it. GMEM_BUILD=<dir> uses an already compiled directory as it is
# (e.g. a helper's .build-<name>); otherwise dist/ is bootstrapped like ./run.sh does, and
# recompiled when a bench/ source is newer (ci/bootstrap.sh only watches lib, tests and unit).
# Also sets $node to the runtime the suite runs on (ci/node.sh, as run.sh) and puts it first on PATH.
build=${GMEM_BUILD:-dist}
if [ "$build" = dist ]; then
  node=$(bash ci/bootstrap.sh)
else
  node=$(bash ci/node.sh)
fi
export PATH="$(dirname "$node"):$PATH"
if [ "$build" = dist ]; then
  if [ ! -f dist/bench/bench.js ] || [ -n "$(find bench -name '*.ts' -newer dist/.build-stamp -print -quit)" ]; then
    printf '# bench: compiling TypeScript (bench/ changed)\n' >&2
    "$node" node_modules/typescript/bin/tsc -p tsconfig.json >&2
    touch dist/.build-stamp
  fi
fi
if [ ! -f "$build/bench/bench.js" ]; then
  echo "bench: $build/bench/bench.js does not exist (compile with npx tsc -p tsconfig.json --outDir $build)" >&2
  exit 2
fi
