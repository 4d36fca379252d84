#!/usr/bin/env bash
# Runs gmem-conformance against the live kernel, installing and building whatever is missing first.
# All arguments go to the suite (see ./run.sh --help). Exit status is kselftest's (0/1/4; 2 = bad input).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

log() { printf '# run.sh: %s\n' "$*" >&2; }

if ! command -v node >/dev/null 2>&1; then
  log "node not found: installing Debian's nodejs and npm"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "run.sh: Node.js >= 20 is required (found $(node --version))" >&2
  exit 2
fi

# Dependencies: install when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# Build: compile when dist is missing or any TypeScript source is newer than the last build.
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find lib tests unit bench tsconfig.json package.json -newer "$stamp" \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]; then
  log "compiling TypeScript"
  npx --no-install tsc -p tsconfig.json >&2
  touch "$stamp"
fi

exec node dist/lib/cli/main.js "$@"
