#!/usr/bin/env bash
# Runs gmem-conformance against the live kernel, installing and building whatever is missing first.
# All arguments go to the suite (./run.sh --help). Exit status is kselftest's: 0 pass, 1 fail, 4 all
# skipped; 2 bad command line or input.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
node=$(bash ci/bootstrap.sh)
# children that start `node` by name (helpers, nested bootstraps) get the same runtime
export PATH="$(dirname "$node"):$PATH"
exec "$node" dist/lib/cli/main.js "$@"
