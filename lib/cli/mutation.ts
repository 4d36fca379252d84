/** `mutation`: a real run against a --mutate-expectations run of the same cases; lists the passing cases whose verdict did not turn. */
import { resolve } from 'node:path';
import { readResults } from '../report/results-file.js';
import { mutationReport } from '../report/mutation.js';
import { parseCommandLine } from './args.js';
import { UsageError } from '../errors.js';

const HELP = `usage: gmem-conformance mutation REAL.jsonl MUTATED.jsonl

REAL is a normal run, MUTATED a run of the same cases with --mutate-expectations. Every case that
passed in REAL should fail in MUTATED; the ones that still pass assert nothing through their expected
errnos and values. Exit status: 0 every passing case turned, 1 some did not, 2 bad input (MUTATED not
a mutation run, REAL one).`;

/** Runs the mutation command. */
export default async function mutationCommand(argv: string[]): Promise<number> {
  const p = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' } },
  });
  if (p.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (p.positionals.length !== 2) throw new UsageError('mutation needs exactly two results files: REAL MUTATED');
  const [real, mutated] = p.positionals.map((f) => readResults(resolve(f)));
  const isMutation = (f: typeof real) =>
    (f?.run.options as { mutateExpectations?: boolean } | undefined)?.mutateExpectations === true;
  if (isMutation(real)) throw new UsageError(`${real?.path} is a mutation run; give the real run first`);
  if (!isMutation(mutated)) throw new UsageError(`${mutated?.path} is not a --mutate-expectations run`);
  const r = mutationReport(real!.results, mutated!.results);
  const passed = r.turned.length + r.notTurned.length + r.stopped.length + r.missing.length;
  process.stdout.write(
    `${passed} cases passed in ${real!.path}: ${r.turned.length} failed under mutation, ${r.notTurned.length} still passed, ${r.stopped.length} skipped or errored, ${r.missing.length} not in ${mutated!.path}\n`,
  );
  for (const id of r.notTurned) process.stdout.write(`not turned: ${id}\n`);
  for (const id of r.stopped) process.stdout.write(`stopped: ${id}\n`);
  for (const id of r.missing) process.stdout.write(`missing: ${id}\n`);
  return r.notTurned.length ? 1 : 0;
}
