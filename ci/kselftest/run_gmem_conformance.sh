#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# gmem-conformance as a kselftest: runs the suite installed beside this script (suite/) on the live
# kernel. KTAP on stdout, exit status kselftest's: 0 pass, 1 fail, 4 skip (every case skipped, or
# no Node.js >= 24 to run it). The suite's own statuses 2 (bad command line or input) and 3 (internal error)
# become 1, since the kselftest runner would read 2 as XFAIL.
#
# Arguments are those of `gmem-conformance run` (-t, -x, -j, --timeout, --platform …); run_kselftest.sh
# passes $KSELFTEST_RUN_GMEM_CONFORMANCE_SH_ARGS, e.g. KSELFTEST_RUN_GMEM_CONFORMANCE_SH_ARGS="-t gmem -j 2".
# Environment: GMEM_NODE  Node.js binary (default: node/bin/node beside this script, which install.sh puts
#                         there unless --node system, else node from PATH)
#              GMEM_RESULTS  JSON-lines results file (default: results/latest.jsonl beside this script)
here=$(cd "$(dirname "$0")" && pwd -P)
node=${GMEM_NODE:-}
if [ -z "$node" ]; then
  if [ -x "$here/node/bin/node" ]; then node=$here/node/bin/node; else node=node; fi
fi
# the major line of ci/node.pin (unit/node-pin.test.ts keeps them equal)
min=24

skip() {
  echo "KTAP version 1"
  echo "1..0 # SKIP $*"
  exit 4
}

command -v "$node" >/dev/null 2>&1 || skip "gmem_conformance needs Node.js >= $min: $node not found"
major=$("$node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)
[ "${major:-0}" -ge "$min" ] 2>/dev/null || skip "gmem_conformance needs Node.js >= $min: $node is $("$node" --version 2>/dev/null)"
[ -f "$here/suite/dist/lib/cli/main.js" ] || skip "gmem_conformance is not installed beside $0 (no suite/dist/lib/cli/main.js)"

"$node" "$here/suite/dist/lib/cli/main.js" run -o "${GMEM_RESULTS:-$here/results/latest.jsonl}" "$@"
rc=$?
case $rc in
  0|1|4) exit "$rc" ;;
  *) echo "# gmem-conformance exited with status $rc (2: bad command line or input, 3: internal error): reported as a failure"
     exit 1 ;;
esac
