/** The project's cache directory for downloaded and unpacked kernels (shared with lib/debian/apt-download.sh). */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../paths.js';

let chosen: string | undefined;

/** GMEM_CACHE_DIR, else /var/cache/gmem-conformance when writable, else <project>/.cache (same rule as apt-download.sh). */
export function cacheDir(): string {
  if (chosen) return chosen;
  const fromEnv = process.env.GMEM_CACHE_DIR;
  if (fromEnv) chosen = fromEnv;
  else {
    const system = '/var/cache/gmem-conformance';
    try {
      mkdirSync(system, { recursive: true });
      accessSync(system, constants.W_OK);
      chosen = system;
    } catch {
      chosen = join(PROJECT_ROOT, '.cache');
    }
  }
  mkdirSync(chosen, { recursive: true });
  return chosen;
}

/** A subdirectory of the cache, created when missing. */
export function cacheSubdir(...parts: string[]): string {
  const dir = join(cacheDir(), ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}
