/** `import`: turns kselftest runner output (TAP 13) into a results file the matrix can merge as evidence. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { hostname, release } from 'node:os';
import { importKselftestTap } from '../report/import-tap.js';
import { ResultsWriter } from '../report/results-writer.js';
import { checkNotAnInput, checkOutputFile, makeParentDir } from './output-paths.js';
import { InputError, UsageError } from '../errors.js';
import { suiteVersion } from '../harness/metadata.js';
import { VERDICTS } from '../harness/verdict.js';
import { kselftestExitCode, type Totals } from '../report/ktap.js';
import { checkLabel, parseCommandLine } from './args.js';
import { kernelArch } from '../arch.js';

const HELP = `usage: gmem-conformance import KSELFTEST.tap -o OUT.jsonl [--kernel REL] [--platform LABEL] [--host NAME]

Reads the output of run_kselftest.sh (TAP 13, with each test's own TAP behind "# ") and writes a
results file with ids kselftest.<collection>.<test>[.<subtest>]. Give it the kernel, platform and host
of the run it came from (default: this machine's) so the matrix merges it into the right column.`;

/** Runs the import command. */
export default async function importCommand(argv: string[]): Promise<number> {
  const p = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      kernel: { type: 'string' },
      platform: { type: 'string' },
      host: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (p.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (p.positionals.length !== 1) throw new UsageError('import needs exactly one TAP file');
  if (!p.values.out) throw new UsageError('import needs -o OUT.jsonl');
  for (const k of ['kernel', 'platform', 'host'] as const)
    if (p.values[k] !== undefined) checkLabel(`--${k}`, p.values[k] as string);
  const file = resolve(p.positionals[0] as string);
  const outPath = resolve(p.values.out);
  checkNotAnInput('-o', outPath, [file]);
  checkOutputFile('-o', outPath, 'replace');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(file, 0, 0, `cannot read: ${(e as Error).message}`);
  }
  const results = importKselftestTap(file, text); // throws before anything is written
  makeParentDir(outPath);
  const w = new ResultsWriter(outPath);
  const arch = kernelArch();
  w.append({
    type: 'run',
    format: 1,
    suiteVersion: suiteVersion(),
    started: new Date().toISOString(),
    kernel: p.values.kernel ?? release(),
    arch,
    host: p.values.host ?? hostname(),
    platform: p.values.platform ?? arch,
    kvm: {},
    options: { imported: file, source: 'kselftest' },
  });
  for (const r of results) w.append(r);
  const totals = Object.fromEntries(VERDICTS.map((x) => [x, 0])) as Totals;
  for (const r of results) totals[r.verdict] += 1;
  // the exit status kselftest gives these verdicts (1 when a test failed), not 0 for every import
  w.append({ type: 'end', finished: new Date().toISOString(), totals, exitCode: kselftestExitCode(totals) });
  w.commit();
  process.stderr.write(`import: ${results.length} result(s) from ${file} → ${p.values.out}\n`);
  return 0;
}
