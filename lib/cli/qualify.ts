/** `qualify --profile NAME`: runs what a platform profile needs and prints a verdict per feature and overall. */
import { mkdirSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { loadProfiles } from '../fixtures/platforms.js';
import { FEATURES } from '../features/catalog.js';
import { readResults } from '../report/results-file.js';
import { qualify, qualificationMarkdown } from '../report/qualify.js';
import { DEFAULT_FIXTURES_DIR, PROJECT_ROOT } from '../paths.js';
import { existingDir, parseCommandLine, positiveInt } from './args.js';
import { checkDistinctOutputs, checkNotAnInput, checkOutputFile, writeOutputFile } from './output-paths.js';

const HELP = `usage: gmem-conformance qualify --profile NAME [--results FILE...] [--report FILE] [-j N]

Checks a host against a platform profile (fixtures/platforms/NAME.yaml). Without --results it first
runs the cases the profile's features need on the live kernel. Prints a verdict per required and
recommended feature and overall; writes a Markdown report (default results/qualify-NAME.md) and JSON
beside it. Exit status: 0 qualified, 1 not qualified, 2 bad input.
Profiles: see fixtures/platforms/.`;

/** Runs the qualify command. */
export default async function qualifyCommand(argv: string[]): Promise<number> {
  const p = parseCommandLine({
    args: argv,
    options: {
      profile: { type: 'string' },
      results: { type: 'string', multiple: true },
      report: { type: 'string' },
      jobs: { type: 'string', short: 'j' },
      fixtures: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (p.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const fixtures = existingDir('--fixtures', resolve(p.values.fixtures ?? DEFAULT_FIXTURES_DIR));
  const profiles = loadProfiles(fixtures);
  const name = p.values.profile;
  if (!name) throw new UsageError(`--profile is required (one of: ${[...profiles.keys()].join(', ')})`);
  const profile = profiles.get(name);
  if (!profile) throw new UsageError(`no profile "${name}" (one of: ${[...profiles.keys()].join(', ')})`);
  const report = resolve(p.values.report ?? join(PROJECT_ROOT, 'results', `qualify-${name}.md`));
  const reportJson = `${report.replace(/\.md$/, '')}.json`;
  const inputs = (p.values.results ?? []).map((f) => resolve(f));
  const runOut = join(dirname(report), `qualify-${name}.jsonl`);
  const outputs: [string, string][] = [
    ['--report', report],
    ['--report (JSON beside it)', reportJson],
  ];
  if (inputs.length === 0)
    outputs.push(
      ['--report (the run beside it)', runOut],
      ['--report (the KTAP beside it)', runOut.replace(/\.jsonl$/, '.ktap')],
    );
  for (const [option, path] of outputs) {
    checkNotAnInput(option, path, inputs);
    checkOutputFile(option, path, 'replace');
  }
  checkDistinctOutputs(outputs);
  const jobs = positiveInt('-j/--jobs', p.values.jobs, 2);
  let files = inputs.map((f) => readResults(f));
  if (files.length === 0) {
    const wanted = new Set([...profile.requires, ...(profile.recommends ?? [])].map((r) => r.feature));
    const globs = FEATURES.filter((f) => wanted.has(f.id)).flatMap((f) => f.cases);
    const out = runOut;
    mkdirSync(dirname(out), { recursive: true });
    const main = fileURLToPath(new URL('./main.js', import.meta.url));
    const args = [
      'run',
      '-o',
      out,
      '--fixtures',
      fixtures,
      '-j',
      String(jobs),
      '--matrix',
      'none',
      ...globs.flatMap((g) => ['-t', g]),
    ];
    process.stderr.write(
      `qualify: running ${globs.length} case selector(s) for ${wanted.size} feature(s) on the live kernel → ${out}\n`,
    );
    // the KTAP is kept as the run's .ktap; the run's messages go straight to our stderr
    const r = spawnSync(process.execPath, [main, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 256 << 20,
    });
    if (r.error) throw new UsageError(`the suite run behind the qualification could not run: ${r.error.message}`);
    if (r.status !== 0 && r.status !== 1 && r.status !== 4)
      throw new UsageError(
        `the suite run behind the qualification failed (${r.status === null ? `killed by ${r.signal}` : `exit status ${r.status}`}; its message is above): no verdict`,
      );
    writeOutputFile(out.replace(/\.jsonl$/, '.ktap'), r.stdout);
    files = [readResults(out)];
  }
  const q = qualify(profile, files);
  const md = qualificationMarkdown(q);
  writeOutputFile(report, md);
  writeOutputFile(reportJson, `${JSON.stringify(q, null, 2)}\n`);
  for (const f of q.features)
    process.stdout.write(
      `${f.verdict === 'PASS' ? 'PASS' : 'FAIL'}  ${f.level.padEnd(11)} ${f.id.padEnd(34)} ${f.reason}\n`,
    );
  process.stdout.write(
    `${q.overall}: ${q.title} on ${q.run.kernel}${q.archMismatch ? ` (${q.archMismatch})` : ''}\nreport: ${report}\n`,
  );
  return q.overall === 'QUALIFIED' ? 0 : 1;
}
