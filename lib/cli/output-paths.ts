/**
 * Output paths checked before a command touches anything: a file that can be written (not a
 * directory, in a directory that exists or can be made, and that accepts new files), a directory
 * that can take files, and never one of the command's own inputs. Each failure is a UsageError
 * naming the option, so it ends in exit status 2 with nothing written.
 */
import { closeSync, constants, accessSync, mkdirSync, openSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { ReplacedFile } from '../report/replaced-file.js';

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ENOTDIR: a component is a file; the walk up in nearestExisting() names it
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new UsageError(`${path}: cannot be examined (${code ?? (e as Error).message})`);
  }
}

/** The nearest existing ancestor of path (a directory that will hold it, once missing levels are made). */
function nearestExisting(option: string, path: string): string {
  let dir = dirname(path);
  for (;;) {
    const st = statOrNull(dir);
    if (st) {
      if (!st.isDirectory()) throw new UsageError(`${option}: ${path}: ${dir} is not a directory`);
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new UsageError(`${option}: ${path}: no existing directory above it`);
    dir = up;
  }
}

/** Creates and removes a probe file in dir: the only reliable "can files be made here" test (root passes access(2) on a read-only or pseudo filesystem). */
function probeDirectory(option: string, path: string, dir: string): void {
  const probe = resolve(dir, `.gmem-write-probe-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
    unlinkSync(probe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UsageError(`${option}: ${path}: cannot create files in ${dir} (${code})`);
  }
}

/** How an output file is written: 'replace' (written beside and renamed over: must be a regular file if it exists) or 'write' (opened and written: a device such as /dev/null is fine). */
export type OutputMode = 'replace' | 'write';

/** Checks that option's file can be written without touching it; throws a UsageError naming the option. */
export function checkOutputFile(option: string, path: string, mode: OutputMode = 'write'): void {
  if (path === '' || path.endsWith('/')) throw new UsageError(`${option} expects a file name, got "${path}"`);
  const st = statOrNull(path);
  if (st?.isDirectory()) throw new UsageError(`${option}: ${path} is a directory, not a file`);
  if (st && mode === 'replace' && !st.isFile())
    throw new UsageError(`${option}: ${path} is not a regular file (it would be replaced, not written)`);
  if (st) {
    try {
      accessSync(path, constants.W_OK);
    } catch (e) {
      throw new UsageError(
        `${option}: ${path} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
  }
  if (!st || mode === 'replace') probeDirectory(option, path, nearestExisting(option, path));
}

/** Checks that option's directory exists as a directory that accepts files, or can be made; throws a UsageError. */
export function checkOutputDir(option: string, dir: string): void {
  const st = statOrNull(dir);
  if (st && !st.isDirectory()) throw new UsageError(`${option}: ${dir} is not a directory`);
  probeDirectory(option, dir, st ? dir : nearestExisting(option, dir));
}

function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  const sa = statOrNullQuiet(a);
  const sb = statOrNullQuiet(b);
  return !!sa && !!sb && sa.dev === sb.dev && sa.ino === sb.ino;
}

function statOrNullQuiet(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Refuses an output that is one of the command's inputs (same path, or the same file through a link). */
export function checkNotAnInput(option: string, output: string, inputs: readonly string[]): void {
  for (const input of inputs) {
    if (sameFile(output, input))
      throw new UsageError(`${option}: ${output} is also an input of this command; it would be overwritten`);
  }
}

/** Refuses two outputs that are the same file. */
export function checkDistinctOutputs(outputs: readonly [string, string][]): void {
  for (let i = 0; i < outputs.length; i++) {
    for (let j = i + 1; j < outputs.length; j++) {
      const [oa, a] = outputs[i] as [string, string];
      const [ob, b] = outputs[j] as [string, string];
      if (sameFile(a, b)) throw new UsageError(`${oa} and ${ob} name the same file ${a}`);
    }
  }
}

/** Makes the directory that will hold an output file (after the checks above passed). */
export function makeParentDir(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
}

/** Writes a whole output file (after the checks above): into FILE.partial, then renamed over FILE, so a failure never leaves half of it. */
export function writeOutputFile(path: string, text: string): void {
  makeParentDir(path);
  const f = new ReplacedFile(path);
  f.write(text);
  f.commit();
}
