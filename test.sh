#!/usr/bin/env bash
# Runs the project's own tests (node:test), installing and building whatever is missing first.
# Also fetches the kernel's KTAP parser (kunit.py, from Debian's linux-source) into the cache when it
# can; the tests that need it skip with the reason when it cannot be had.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
bash ci/bootstrap.sh
if kunit=$(bash lib/debian/kunit-parser.sh 2>/dev/null); then export GMEM_KUNIT_PY=$kunit; fi
exec node --test "$@" dist/unit/
