/** `compare`: baseline vs candidate results; exit 1 on regressions, Markdown (and JSON) a CI can post. */
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { readResults } from '../report/results-file.js';
import { compareResults, comparisonMarkdown, comparisonStatus } from '../report/compare.js';
import { checkDistinctOutputs, checkNotAnInput, checkOutputFile, writeOutputFile } from './output-paths.js';
import { parseCommandLine } from './args.js';

const HELP = `usage: gmem-conformance compare BASELINE.jsonl CANDIDATE.jsonl [--json FILE] [--markdown FILE]

Prints new failures, fixes, features gained/lost/broken and changed observations (errnos).
Exit status: 0 no regression, 1 a case newly fails, a present feature was lost or broke, or the candidate
run is incomplete (no end record: killed), 2 bad input.`;

/** Runs the compare command. */
export default async function compareCommand(argv: string[]): Promise<number> {
  const p = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'string' }, markdown: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (p.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (p.positionals.length !== 2) throw new UsageError('compare needs exactly two results files: BASELINE CANDIDATE');
  const inputs = p.positionals.map((f) => resolve(f));
  const outputs: [string, string][] = [];
  if (p.values.markdown !== undefined) outputs.push(['--markdown', resolve(p.values.markdown)]);
  if (p.values.json !== undefined) outputs.push(['--json', resolve(p.values.json)]);
  for (const [option, path] of outputs) {
    checkNotAnInput(option, path, inputs);
    checkOutputFile(option, path, 'replace');
  }
  checkDistinctOutputs(outputs);
  const [base, cand] = inputs.map((f) => readResults(f));
  const c = compareResults(base!, cand!);
  const md = comparisonMarkdown(c);
  process.stdout.write(md);
  if (p.values.markdown) writeOutputFile(resolve(p.values.markdown), md);
  if (p.values.json) writeOutputFile(resolve(p.values.json), `${JSON.stringify(c, null, 2)}\n`);
  if (c.candidateIncomplete)
    process.stderr.write(`compare: the candidate run is incomplete: ${c.candidateIncomplete}\n`);
  return comparisonStatus(c);
}
