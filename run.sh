#!/usr/bin/env bash
# Runs gmem-conformance against the live kernel, installing and building whatever is missing first.
# All arguments go to the suite (./run.sh --help). Exit status is kselftest's: 0 pass, 1 fail, 4 all
# skipped; 2 bad command line or input.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
bash ci/bootstrap.sh
exec node dist/lib/cli/main.js "$@"
