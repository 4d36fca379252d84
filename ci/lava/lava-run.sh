#!/bin/sh
# Runs gmem-conformance inside a LAVA test shell and reports every case with lava-test-case.
# The run step of ci/lava/gmem-conformance.yaml; its parameters arrive as environment variables:
#   SUITE_ARGS   extra arguments for the suite (word-split on purpose; default: every case)
#   PLATFORM     platform label recorded in the results (default: the architecture)
#   RESULTS_DIR  where results.jsonl, results.ktap and lava-results.sh go (default results/lava)
# The suite's KTAP goes to the LAVA log as it runs; then `export lava-results` turns the results file
# into lava-test-set/lava-test-case calls. A run that produced no results file is one failed case.
set -u
cd "$(dirname "$0")/../.." || exit 1
dir=${RESULTS_DIR:-results/lava}
mkdir -p "$dir"
set --
[ -n "${PLATFORM:-}" ] && set -- --platform "$PLATFORM"
# shellcheck disable=SC2086 # SUITE_ARGS is a list of words
./run.sh -o "$dir/results.jsonl" --ktap "$dir/results.ktap" "$@" ${SUITE_ARGS:-}
status=$?
echo "gmem-conformance: suite exit status $status (kselftest: 0 pass, 1 fail, 4 all skipped, 2 bad input)"
# a run that completed renamed results.jsonl.partial to results.jsonl; a killed one left only the partial file
res="$dir/results.jsonl"
if [ -s "$res.partial" ] && { [ ! -e "$res" ] || [ "$res.partial" -nt "$res" ]; }; then
  echo "gmem-conformance: the run did not complete; reporting the results it finished ($res.partial)"
  res="$res.partial"
fi
if [ ! -s "$res" ]; then
  echo "gmem-conformance: no results file: the suite did not start"
  lava-test-case gmem_conformance --result fail
  exit 0
fi
# the node run.sh ran on (the pinned release when the rootfs's own is older): bootstrap prints its path
node=node
[ -f ci/bootstrap.sh ] && node=$(bash ci/bootstrap.sh)
if ! "$node" dist/lib/cli/main.js export lava-results "$res" -o "$dir/lava-results.sh"; then
  lava-test-case gmem_conformance --result fail
  exit 0
fi
sh "$dir/lava-results.sh"
