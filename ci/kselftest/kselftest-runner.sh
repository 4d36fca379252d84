#!/usr/bin/env bash
# Prints the directory holding the kernel's own kselftest runner (run_kselftest.sh and kselftest/:
# runner.sh, ktap_helpers.sh, prefix.pl …, from tools/testing/selftests of Debian's linux-source, made
# available in the cache by lib/debian/linux-source-tools.sh). Nothing of it is committed: the test of
# the kselftest collection (unit/export-kselftest.test.ts) copies them beside an installed collection
# and runs the real run_kselftest.sh.
#
# Usage: ci/kselftest/kselftest-runner.sh [SUITE [SOURCE-PACKAGE]]   (default: sid linux-source-7.2)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tools=$("$root/lib/debian/linux-source-tools.sh" "$@")
printf '%s\n' "$tools/tools/testing/selftests"
