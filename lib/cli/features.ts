/** `features`: lists the feature catalogue, or decides every feature for results files. */
import { resolve } from 'node:path';
import { FEATURES } from '../features/catalog.js';
import { decideFeatures } from '../features/decide.js';
import { readResults } from '../report/results-file.js';
import { parseCommandLine } from './args.js';

const HELP = `usage: gmem-conformance features [--json] [RESULTS.jsonl...]

Without files: the feature catalogue (id, family, capabilities, evidence case globs).
With files: every feature decided for each file (present/absent/broken/untested/inconsistent and why);
each contradiction between a decision and its cases is printed on stderr as well.`;

/** Runs the features command. */
export default async function featuresCommand(argv: string[]): Promise<number> {
  const p = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (p.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (p.positionals.length === 0) {
    if (p.values.json) process.stdout.write(`${JSON.stringify(FEATURES, null, 2)}\n`);
    else for (const f of FEATURES) process.stdout.write(`${f.id.padEnd(40)} ${f.family.padEnd(12)} ${f.title}\n`);
    return 0;
  }
  const decided = p.positionals.map((file) => {
    const r = readResults(resolve(file));
    return { file, kernel: r.run.kernel, platform: r.run.platform, features: decideFeatures(r.run, r.results) };
  });
  if (p.values.json) process.stdout.write(`${JSON.stringify(decided, null, 2)}\n`);
  else
    for (const d of decided) {
      process.stdout.write(`# ${d.file}: ${d.platform} ${d.kernel}\n`);
      for (const f of d.features) {
        const state = f.state === 'present' && !f.verified ? 'advertised' : f.state;
        process.stdout.write(`${f.id.padEnd(40)} ${state.padEnd(12)} ${f.value ? `[${f.value}] ` : ''}${f.reason}\n`);
      }
    }
  for (const d of decided)
    for (const f of d.features)
      for (const p of f.problems ?? [])
        process.stderr.write(`features: warning: ${d.file}: ${f.id} is inconsistent: ${p}\n`);
  return 0;
}
