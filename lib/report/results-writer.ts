/**
 * The one results-file writer. It never loses what exists:
 * - it holds an exclusive flock(2) on `FILE.lock` while it writes, so a second writer to the same
 *   path is refused (exit 2) instead of interleaving with the first;
 * - records go to `FILE.partial`, one write(2) per line as each case finishes, so a killed run keeps
 *   every finished result there;
 * - only `commit()` (the run finished) renames `FILE.partial` over `FILE`: the previous complete
 *   results stay in place until the new ones are complete;
 * - a `FILE.partial` left by a killed run is renamed to `FILE.killed-<time>` before a new run starts.
 */
import {
  openSync,
  writeSync,
  closeSync,
  fsyncSync,
  renameSync,
  unlinkSync,
  fstatSync,
  statSync,
  readFileSync,
  existsSync,
  ftruncateSync,
} from 'node:fs';
import { basename, dirname } from 'node:path';
import * as libc from '../ffi/libc.js';
import { LOCK_EX, LOCK_NB, errnoName } from '../uapi/index.js';
import { InputError } from '../errors.js';
import type { ResultsLine } from '../harness/verdict.js';
import { partialPath } from './replaced-file.js';

/** Where a run writing `path` keeps its records until it completes (and where a killed run's results stay). */
export { partialPath };

/** The lock file guarding `path` against a second writer. */
export function lockPath(path: string): string {
  return `${path}.lock`;
}

/** The results a run left at `path`: the complete file if there is one, else the killed run's partial file, else null. */
export function resultsLeftAt(path: string): string | null {
  if (existsSync(path)) return path;
  if (existsSync(partialPath(path))) return partialPath(path);
  return null;
}

function stringify(x: unknown): string {
  return JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

const EWOULDBLOCK = 11;
/** flock answers of filesystems that cannot lock (some network filesystems): the run goes on unlocked. */
const NO_LOCKING = new Set([37 /* ENOLCK */, 38 /* ENOSYS */, 95 /* EOPNOTSUPP */]);

/** Takes the exclusive lock of `path` (non-blocking) and returns its fd; a held lock is an InputError naming the holder. */
function takeLock(path: string): number {
  const lock = lockPath(path);
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(lock, 'a+', 0o644);
    } catch (e) {
      throw new InputError(path, 0, 0, `cannot create the lock file ${basename(lock)}: ${(e as Error).message}`);
    }
    const r = libc.flock(fd, LOCK_EX | LOCK_NB);
    if (r.ret < 0 && NO_LOCKING.has(r.errno)) {
      process.stderr.write(
        `# warning: ${lock}: this filesystem cannot flock (${errnoName(r.errno)}); writing without the lock\n`,
      );
      return fd;
    }
    if (r.ret < 0) {
      let holder = '';
      try {
        holder = readFileSync(lock, 'utf8').trim();
      } catch {
        /* unreadable: no pid to name */
      }
      closeSync(fd);
      if (r.errno === EWOULDBLOCK) {
        throw new InputError(
          path,
          0,
          0,
          `another gmem-conformance process${/^\d+$/.test(holder) ? ` (pid ${holder})` : ''} is writing this results file (it holds ${lock}); wait for it to finish or give another -o`,
        );
      }
      throw new InputError(path, 0, 0, `cannot lock ${lock}: flock failed with ${errnoName(r.errno)}`);
    }
    // the holder before us may have unlinked the lock file between our open and our flock: then we
    // locked an orphan inode and must start again on the file the path names now
    let same = false;
    try {
      const a = fstatSync(fd);
      const b = statSync(lock);
      same = a.ino === b.ino && a.dev === b.dev;
    } catch {
      /* the path is gone: retry */
    }
    if (same) {
      ftruncateSync(fd, 0);
      writeSync(fd, `${process.pid}\n`);
      return fd;
    }
    closeSync(fd);
  }
  throw new InputError(path, 0, 0, `cannot lock ${lock}: it keeps being replaced by another process`);
}

function compactTime(d: Date): string {
  return d
    .toISOString()
    .replace(/[:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** Appends records to `FILE.partial` under the lock, one write(2) per line; commit() makes it `FILE`. */
export class ResultsWriter {
  /** The final results file. */ readonly path: string;
  /** The file records go to until commit(). */ readonly partial: string;
  /** Where a killed run's leftover partial file was moved, if there was one. */ readonly movedAside: string | null =
    null;
  private lockFd: number;
  private fd: number;
  private done = false;
  /** Takes the lock and opens the partial file; throws an InputError (exit 2) if another writer holds it. The directory must exist (see checkOutputPath). */
  constructor(path: string) {
    this.path = path;
    this.partial = partialPath(path);
    this.lockFd = takeLock(path);
    try {
      if (existsSync(this.partial)) {
        // we hold the lock, so no live writer owns it: it is what a killed run finished
        let aside = `${path}.killed-${compactTime(statSync(this.partial).mtime)}`;
        if (existsSync(aside)) aside = `${aside}-${process.pid}`;
        renameSync(this.partial, aside);
        this.movedAside = aside;
      }
      this.fd = openSync(this.partial, 'wx', 0o644);
    } catch (e) {
      this.releaseLock();
      if (e instanceof InputError) throw e;
      throw new InputError(path, 0, 0, `cannot write ${this.partial}: ${(e as Error).message}`);
    }
  }
  /** Appends one record as a line (one write(2)). */
  append(rec: ResultsLine): void {
    writeSync(this.fd, `${stringify(rec)}\n`);
  }
  /** The run is complete: flush, rename the partial file over the results file, release the lock. */
  commit(): void {
    if (this.done) return;
    this.done = true;
    fsyncSync(this.fd);
    closeSync(this.fd);
    renameSync(this.partial, this.path);
    try {
      const dfd = openSync(dirname(this.path), 'r');
      fsyncSync(dfd);
      closeSync(dfd);
    } catch {
      /* a directory that cannot be fsynced (some network filesystems) */
    }
    this.releaseLock();
  }
  /** The run did not complete (interrupted): keep the partial file as it is, release the lock. */
  abandon(): void {
    if (this.done) return;
    this.done = true;
    try {
      fsyncSync(this.fd);
    } catch {
      /* keep going: the lines are written already */
    }
    closeSync(this.fd);
    this.releaseLock();
  }
  /** Nothing was recorded (setup failed after the lock was taken): remove the partial file, release the lock. */
  discard(): void {
    if (this.done) return;
    this.done = true;
    closeSync(this.fd);
    try {
      unlinkSync(this.partial);
    } catch {
      /* already gone */
    }
    this.releaseLock();
  }
  private releaseLock(): void {
    // unlink while still holding the lock, so a waiter that opened this inode sees it orphaned and retries
    try {
      unlinkSync(lockPath(this.path));
    } catch {
      /* already gone */
    }
    closeSync(this.lockFd);
  }
}
