#!/usr/bin/env bash
# Installs and builds whatever is missing: Node.js (Debian's, if absent), npm dependencies, the
# compiled TypeScript. Sourced by run.sh and test.sh; idempotent and quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

bootstrap_log() { printf '# bootstrap: %s\n' "$*" >&2; }

if ! command -v node >/dev/null 2>&1; then
  bootstrap_log "node not found: installing Debian's nodejs and npm"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "gmem-conformance needs Node.js >= 20 (found $(node --version))" >&2
  exit 2
fi
if ! command -v gcc >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
  bootstrap_log "installing gcc and python3 (uapi check, kernel KTAP parser)"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev python3 >&2
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  bootstrap_log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find lib tests unit bench tsconfig.json package.json -newer "$stamp" \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]; then
  bootstrap_log "compiling TypeScript"
  rm -rf dist
  npx --no-install tsc -p tsconfig.json >&2
  touch "$stamp"
fi
