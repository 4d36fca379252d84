#!/usr/bin/env bash
# Runs the project's own tests (node:test), installing and building whatever is missing first.
# Also fetches the kernel's KTAP parser (kunit.py, from Debian's linux-source) into the cache when it
# can; the tests that need it skip with the reason when it cannot be had.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
node=$(bash ci/bootstrap.sh)
# the tests start node by process.execPath, helpers by name: both get the bootstrap's runtime
export PATH="$(dirname "$node"):$PATH"
if kunit=$(bash lib/debian/kunit-parser.sh 2>/dev/null); then export GMEM_KUNIT_PY=$kunit; fi
# Debian's Chromium renders the feature matrix page in unit/matrix-html.test.ts (it skips, saying so, without it)
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" -eq 0 ]; then
  printf '# test.sh: installing Debian chromium for the matrix page test\n' >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2 || printf '# test.sh: chromium could not be installed\n' >&2
fi
# a glob, not the directory: from Node 22 on, --test takes patterns and a bare directory is not one
exec "$node" --test "$@" 'dist/unit/*.test.js'
