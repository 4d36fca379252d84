/** Node's on-disk compile cache for the CLI and every process it starts (workers, probe children, guests). */
import module from 'node:module';

/**
 * Turns on module.enableCompileCache() (Node >= 22.1) before the CLI loads anything else, and passes
 * the directory on as NODE_COMPILE_CACHE so workers and probe children, which load their whole module
 * graph at start, read it too (README, "Which Node.js": start-up figures with and without it).
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off; NODE_COMPILE_CACHE=DIR moves it (default: Node's, under
 * the temporary directory). A cache that cannot be written (a guest's read-only root) only costs the
 * speed-up, so the status is not checked beyond passing the directory on.
 */
export function enableCompileCache(): void {
  const enable = (module as { enableCompileCache?: () => { status: number; directory?: string } }).enableCompileCache;
  if (typeof enable !== 'function') return;
  const r = enable();
  if (
    r.directory &&
    (r.status === module.constants.compileCacheStatus.ENABLED ||
      r.status === module.constants.compileCacheStatus.ALREADY_ENABLED)
  ) {
    process.env.NODE_COMPILE_CACHE ??= r.directory;
  }
}
