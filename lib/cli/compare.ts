/** `compare`: baseline vs candidate results; exit 1 on regressions, Markdown (and JSON) a CI can post. */
import { writeFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { resolve } from 'node:path';
import { readResults } from '../report/results-file.js';
import { compareResults, comparisonMarkdown, hasRegressions } from '../report/compare.js';
import { parseCommandLine } from './args.js';

const HELP = `usage: gmem-conformance compare BASELINE.jsonl CANDIDATE.jsonl [--json FILE] [--markdown FILE]

Prints new failures, fixes, features gained/lost/broken and changed observations (errnos).
Exit status: 0 no regression, 1 a case newly fails or a present feature was lost or broke, 2 bad input.`;

/** Runs the compare command. */
export default async function compareCommand(argv: string[]): Promise<number> {
  const p = parseCommandLine({ args: argv, allowPositionals: true, options: { json: { type: 'string' }, markdown: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (p.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (p.positionals.length !== 2) throw new UsageError('compare needs exactly two results files: BASELINE CANDIDATE');
  const [base, cand] = p.positionals.map((f) => readResults(resolve(f)));
  const c = compareResults(base!, cand!);
  const md = comparisonMarkdown(c);
  process.stdout.write(md);
  if (p.values.markdown) writeFileSync(resolve(p.values.markdown), md);
  if (p.values.json) writeFileSync(resolve(p.values.json), `${JSON.stringify(c, null, 2)}\n`);
  return hasRegressions(c) ? 1 : 0;
}
