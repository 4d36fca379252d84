/** Finds case modules under a directory, imports them, and expands cases into ordered instances. */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { instancesOf, type CaseDef, type CaseInstance } from './case.js';

/** The compiled conformance cases shipped with the suite (dist/tests). */
export const DEFAULT_CASES_DIR = resolve(fileURLToPath(new URL('../../tests', import.meta.url)));

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.js')) out.push(p);
  }
  return out;
}

function isCase(x: unknown): x is CaseDef<unknown> {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as CaseDef).id === 'string' &&
    typeof (x as CaseDef).run === 'function'
  );
}

/** Imports every module under dir; a module's default export is a case or an array of cases. */
export async function loadInstances(dir = DEFAULT_CASES_DIR): Promise<CaseInstance[]> {
  const out: CaseInstance[] = [];
  const seen = new Map<string, string>();
  for (const file of walk(dir)) {
    const url = pathToFileURL(file).href;
    const mod = (await import(url)) as { default?: unknown };
    const exported = Array.isArray(mod.default) ? mod.default : mod.default === undefined ? [] : [mod.default];
    for (const def of exported) {
      if (!isCase(def)) throw new Error(`${file}: default export holds something that is not a case`);
      const prev = seen.get(def.id);
      if (prev) throw new Error(`duplicate case id ${def.id} in ${file} (first in ${prev})`);
      seen.set(def.id, file);
      out.push(...instancesOf(def, url));
    }
  }
  return out;
}

/** Imports one case module and expands its cases (what a worker needs for the instances it is sent). */
export async function loadModuleInstances(url: string): Promise<CaseInstance[]> {
  const mod = (await import(url)) as { default?: unknown };
  const exported = Array.isArray(mod.default) ? mod.default : mod.default === undefined ? [] : [mod.default];
  const out: CaseInstance[] = [];
  for (const def of exported) {
    if (!isCase(def)) throw new Error(`${url}: default export holds something that is not a case`);
    out.push(...instancesOf(def, url));
  }
  return out;
}

/** Converts a glob (* and ?; ** is the same as *) into an anchored RegExp over instance ids. */
export function globToRegExp(glob: string): RegExp {
  const src = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*+/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${src}$`);
}

/** True when an instance id matches a selector: exact id, case id, a family prefix, or a glob. */
export function matches(inst: CaseInstance, selector: string): boolean {
  if (/[*?]/.test(selector)) {
    const re = globToRegExp(selector);
    return re.test(inst.id) || re.test(inst.def.id);
  }
  return inst.id === selector || inst.def.id === selector || inst.id.startsWith(`${selector}.`);
}

/** Applies -t selections and -x exclusions (both lists of selectors). */
export function select(all: CaseInstance[], include: string[], exclude: string[]): CaseInstance[] {
  return all.filter(
    (i) => (include.length === 0 || include.some((s) => matches(i, s))) && !exclude.some((s) => matches(i, s)),
  );
}
