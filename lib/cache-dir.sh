# The suite's cache directory: one rule for every shell script (source this file, then
# cache=$(gmem_cache_dir)) and for the TypeScript (lib/paths.ts, cacheDir(); unit/cache-dir.test.ts
# checks that the two agree):
#   GMEM_CACHE_DIR when set, else /var/cache/gmem-conformance when it can be created and written,
#   else <project>/.cache.
# Run directly (bash lib/cache-dir.sh) it prints the directory. It creates only /var/cache/gmem-conformance
# (the probe); the caller creates the subdirectories it uses.

gmem_cache_dir() {
  local system=/var/cache/gmem-conformance
  if [[ -n ${GMEM_CACHE_DIR:-} ]]; then printf '%s\n' "$GMEM_CACHE_DIR"
  elif mkdir -p "$system" 2>/dev/null && [[ -w $system ]]; then printf '%s\n' "$system"
  else printf '%s/.cache\n' "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"; fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then gmem_cache_dir; fi
