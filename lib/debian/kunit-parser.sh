#!/usr/bin/env bash
# Prints the path of the kernel's KTAP parser (tools/testing/kunit/kunit.py from Debian's linux-source,
# made available in the cache by linux-source-tools.sh). Nothing of it is committed.
#
# Usage: lib/debian/kunit-parser.sh [SUITE [SOURCE-PACKAGE]]   (default: sid linux-source-7.2)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$("$here/linux-source-tools.sh" "$@")
printf '%s\n' "$tools/tools/testing/kunit/kunit.py"
