#!/usr/bin/env bash
# Installs and builds whatever is missing: the Node.js to run on (ci/node.sh: the system's when it is
# at least the pinned release, else the pinned release fetched into the cache; GMEM_NODE overrides),
# npm dependencies, the compiled TypeScript. Run by run.sh, test.sh and the kselftest installer;
# idempotent and quiet when nothing is missing. Prints the node binary's path on stdout (nothing else
# goes there), for the caller to run the suite with.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

bootstrap_log() { printf '# bootstrap: %s\n' "$*" >&2; }
apt_install() {
  [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1 || { bootstrap_log "cannot install $* (not root, or no apt-get)"; exit 2; }
  # apt's progress (a line per package) is dropped; its errors stay on stderr
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >/dev/null ||
    { bootstrap_log "apt-get install $* failed"; exit 2; }
}

node=$(bash ci/node.sh)
# npm, npx and tsc start through `#!/usr/bin/env node`: they run on the chosen node too
PATH=$(dirname "$node"):$PATH
export PATH

if ! command -v gcc >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
  bootstrap_log "installing gcc and python3 (uapi check, kernel KTAP parser, probe-exec)"
  apt_install gcc libc6-dev python3
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if ! command -v npm >/dev/null 2>&1; then
    bootstrap_log "npm not found: installing Debian's npm for npm ci"
    apt_install npm
  fi
  bootstrap_log "installing npm dependencies (npm ci)"
  # --ignore-scripts: no dependency needs one (koffi's binary comes in @koromix/koffi-<platform>), and
  # npm 9 (Debian 12's) would otherwise run koffi's source build that npm 11 skips anyway
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
fi
# tsc is incremental (its state in dist/tsconfig.tsbuildinfo; a build with --outDir X keeps its own in X),
# so dist/ is kept and only what changed is rebuilt.
# What incremental tsc does not do is handled here: the output of a deleted or renamed source is removed
# (dist/tests/ is what the registry loads, so a stale case would still run), and a missing output (tsc
# would believe it is there) drops the build info, which rebuilds everything.
stamp=dist/.build-stamp
if [ -d dist ]; then
  while IFS= read -r out; do
    rel=${out#dist/}
    [ -f "${rel%.js}.ts" ] || { rm -f "$out"; rm -f "$stamp"; }
  done < <(find dist -name '*.js' -type f)
  while IFS= read -r src; do
    [ -f "dist/${src%.ts}.js" ] || { rm -f dist/tsconfig.tsbuildinfo "$stamp"; break; }
  done < <(find lib tests unit bench -name '*.ts' ! -name '*.d.ts' -type f)
fi
if [ ! -f "$stamp" ] || [ -n "$(find lib tests unit bench tsconfig.json package.json -newer "$stamp" \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]; then
  bootstrap_log "compiling TypeScript"
  "$node" node_modules/typescript/bin/tsc -p tsconfig.json >&2
  touch "$stamp"
fi
# The probe-program interpreter (lib/harness/probe-exec.c): a child that may die of SIGBUS without a Node.js
# start. Linked statically where libc.a is there, so that a guest or the kselftest collection can run it too.
exe=dist/lib/harness/probe-exec
src=lib/harness/probe-exec.c
if [ ! -x "$exe" ] || [ "$src" -nt "$exe" ]; then
  bootstrap_log "compiling $src"
  mkdir -p "$(dirname "$exe")"
  gcc -O2 -Wall -Werror -static -o "$exe.tmp" "$src" 2>/dev/null || gcc -O2 -Wall -Werror -o "$exe.tmp" "$src" >&2
  mv -f "$exe.tmp" "$exe"
fi
printf '%s\n' "$node"
