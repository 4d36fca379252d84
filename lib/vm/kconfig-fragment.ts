/** Kernel config fragments: the project's (fixtures/kconfig/<name>.config) or a user's, parsed and checked against a built .config. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { DEFAULT_FIXTURES_DIR } from '../paths.js';
import { InputError } from '../errors.js';
import { parseDotConfig } from '../kconfig.js';

/** Where the project's fragments live. */
export const FRAGMENTS_DIR = join(DEFAULT_FIXTURES_DIR, 'kconfig');

/** One parsed fragment. */
export interface Fragment {
  /** Its name (file name without .config for the project's own, else the path as given). */ name: string;
  /** Absolute path. */ path: string;
  /** The text as read (what the cache key hashes). */ text: string;
  /** Option → wanted value ('y', 'm', 'n' for "is not set", or a literal such as 64 or "str"). */ options: Map<
    string,
    string
  >;
}

/** Parses a fragment's text: `CONFIG_X=v`, `# CONFIG_X is not set`, comments and blank lines; anything else is an InputError at its line and column. */
export function parseFragment(name: string, path: string, text: string): Fragment {
  const options = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!line.trim()) return;
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    const key = unset?.[1] ?? set?.[1];
    if (!key) {
      if (line.startsWith('#')) return;
      throw new InputError(
        path,
        i + 1,
        1,
        `not a kconfig line: expected CONFIG_NAME=value or "# CONFIG_NAME is not set", got "${line.slice(0, 60)}"`,
      );
    }
    const value = unset ? 'n' : (set?.[2] as string);
    if (value === '') throw new InputError(path, i + 1, key.length + 2, `${key} has no value`);
    const before = options.get(key);
    if (before !== undefined && before !== value)
      throw new InputError(path, i + 1, 1, `${key} is set twice, to ${before} and to ${value}`);
    options.set(key, value);
  });
  if (options.size === 0) throw new InputError(path, 1, 1, 'the fragment sets no CONFIG_ option');
  return { name, path, text, options };
}

/** Loads a fragment by project name (sw-protected-vm) or by path (anything with a slash or ending in .config). */
export function loadFragment(nameOrPath: string, dir = FRAGMENTS_DIR): Fragment {
  const isPath = nameOrPath.includes('/') || nameOrPath.endsWith('.config');
  const path = isPath ? resolve(nameOrPath) : join(dir, `${nameOrPath}.config`);
  if (!existsSync(path)) {
    const known = existsSync(dir) ? listFragments(dir).join(', ') : '(none)';
    throw new InputError(
      path,
      0,
      0,
      `no kconfig fragment ${isPath ? `at ${path}` : `"${nameOrPath}"`} (the project's: ${known})`,
    );
  }
  return parseFragment(isPath ? nameOrPath : basename(path, '.config'), path, readFileSync(path, 'utf8'));
}

/** Names of the project's fragments. */
export function listFragments(dir = FRAGMENTS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.config'))
    .map((f) => basename(f, '.config'))
    .sort();
}

/** A fragment option the final .config does not carry (a dependency is missing, or the option does not exist in that tree). */
export interface UnmetOption {
  /** CONFIG_ name. */ option: string;
  /** What the fragment asked for. */ wanted: string;
  /** What the .config has ('absent' when the option is not in it at all). */ got: string;
  /** The fragment that asked. */ fragment: string;
}

/** Every option of the fragments that the .config does not have as asked ('n' is met by absence too). */
export function unmetOptions(fragments: Fragment[], dotConfig: string): UnmetOption[] {
  const have = parseDotConfig(dotConfig);
  const out: UnmetOption[] = [];
  for (const f of fragments)
    for (const [option, wanted] of f.options) {
      const got = have.get(option);
      if (got === wanted || (wanted === 'n' && got === undefined)) continue;
      out.push({ option, wanted, got: got ?? 'absent', fragment: f.name });
    }
  return out;
}

/** Options two fragments set to different values (a conflict the later one would silently win). */
export function conflictingOptions(fragments: Fragment[]): string[] {
  const seen = new Map<string, { value: string; fragment: string }>();
  const out: string[] = [];
  for (const f of fragments)
    for (const [option, value] of f.options) {
      const before = seen.get(option);
      if (before && before.value !== value)
        out.push(`${option}: ${before.fragment} sets ${before.value}, ${f.name} sets ${value}`);
      else seen.set(option, { value, fragment: f.name });
    }
  return out;
}

/** sha256 of a fragment's text. */
export function fragmentHash(f: Fragment): string {
  return createHash('sha256').update(f.text).digest('hex');
}
