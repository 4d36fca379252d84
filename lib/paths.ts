/** Where the suite's own directories are, relative to the compiled code, and its cache directory. */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (the directory holding package.json). */
export const PROJECT_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** The fixtures directory shipped with the suite. */
export const DEFAULT_FIXTURES_DIR = resolve(PROJECT_ROOT, 'fixtures');

/** Default results file of a run. */
export const DEFAULT_RESULTS = resolve(PROJECT_ROOT, 'results', 'latest.jsonl');

/** The system-wide cache directory, used when it can be created and written. */
export const SYSTEM_CACHE_DIR = '/var/cache/gmem-conformance';

/**
 * The cache rule of lib/cache-dir.sh, which every shell script sources (unit/cache-dir.test.ts checks that
 * the two agree): GMEM_CACHE_DIR, else /var/cache/gmem-conformance when it can be created and written, else
 * <project>/.cache. Creates only the system directory (the probe), as the shell rule does.
 */
export function resolveCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GMEM_CACHE_DIR) return env.GMEM_CACHE_DIR;
  try {
    mkdirSync(SYSTEM_CACHE_DIR, { recursive: true });
    accessSync(SYSTEM_CACHE_DIR, constants.W_OK);
    return SYSTEM_CACHE_DIR;
  } catch {
    return join(PROJECT_ROOT, '.cache');
  }
}

let chosen: string | undefined;

/** The cache directory (resolveCacheDir, decided once per process), created when missing. */
export function cacheDir(): string {
  if (chosen) return chosen;
  chosen = resolveCacheDir();
  mkdirSync(chosen, { recursive: true });
  return chosen;
}

/** A subdirectory of the cache, created when missing. */
export function cacheSubdir(...parts: string[]): string {
  const dir = join(cacheDir(), ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}
