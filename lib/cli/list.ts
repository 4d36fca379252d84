/** `list` (-l): prints the selected cases, or their metadata as JSON with --json, without running them. */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseInstance } from '../harness/case.js';
import { mergeRequires } from '../harness/requirements.js';
import { PROJECT_ROOT } from '../paths.js';

/** Metadata of one instance as `list --json` prints it. */
export function instanceMetadata(i: CaseInstance): Record<string, unknown> {
  return {
    id: i.id,
    case: i.def.id,
    ...(i.variant ? { variant: i.variant.name } : {}),
    family: i.family,
    doc: i.def.doc,
    requires: mergeRequires(i.def.requires, i.variant?.requires),
    tags: i.def.tags ?? {},
    ...(i.def.timeoutMs ? { timeoutMs: i.def.timeoutMs } : {}),
    isolation: i.def.isolation ?? 'shared',
    serial: i.def.serial ?? false,
    source: relative(PROJECT_ROOT, fileURLToPath(i.module))
      .replace(/^dist\//, '')
      .replace(/\.js$/, '.ts'),
  };
}

/** Writes the listing to stdout. */
export function printList(instances: CaseInstance[], json: boolean): void {
  if (json) {
    const out = { count: instances.length, cases: instances.map(instanceMetadata) };
    process.stdout.write(`${JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
    return;
  }
  for (const i of instances) process.stdout.write(`${i.id}\t${i.def.doc}\n`);
  process.stdout.write(`# ${instances.length} cases\n`);
}
