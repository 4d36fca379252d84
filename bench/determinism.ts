/**
 * Determinism check: runs the suite N times in a row (default 5) and compares the verdict of every
 * instance across the runs. Prints each id whose verdict differs, with its verdict in every run and
 * the messages of the runs that differ from the most common verdict; exits 1 if there is any, 0 if
 * every verdict is identical. Result files are kept (bench/results/determinism-<date>/run-K.jsonl).
 *
 *   node <build>/bench/determinism.js [--runs N] [-j N] [-t SEL]... [-x SEL]... [--keep DIR] [--timeout SEC]
 */
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readResults } from '../lib/report/results-file.js';
import { PROJECT_ROOT } from '../lib/paths.js';
import type { CaseResult } from '../lib/harness/verdict.js';

const CLI = fileURLToPath(new URL('../lib/cli/main.js', import.meta.url));

/** One run's verdicts by instance id. */
export interface RunVerdicts {
  /** Exit status of the CLI. */ status: number | null;
  /** Wall time, ms. */ wallMs: number;
  /** The run wrote its end record. */ complete: boolean;
  /** Result of every instance, by id. */ byId: Map<string, CaseResult>;
}

/** An instance whose verdict was not the same in every run. */
export interface Difference {
  /** Instance id. */ id: string;
  /** Verdict in each run ('absent' when the run has no result for it). */ verdicts: string[];
  /** Messages of the runs whose verdict differs from the most common one, by run number (1-based). */ messages: Record<
    number,
    string
  >;
}

/** Compares verdicts across runs; returns every id whose verdict is not the same in all of them. */
export function compareRuns(runs: RunVerdicts[]): Difference[] {
  const ids = new Set<string>();
  for (const r of runs) for (const id of r.byId.keys()) ids.add(id);
  const out: Difference[] = [];
  for (const id of ids) {
    const verdicts = runs.map((r) => r.byId.get(id)?.verdict ?? 'absent');
    if (verdicts.every((v) => v === verdicts[0])) continue;
    const counts = new Map<string, number>();
    for (const v of verdicts) counts.set(v, (counts.get(v) ?? 0) + 1);
    const modal = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
    const messages: Record<number, string> = {};
    runs.forEach((r, k) => {
      if (verdicts[k] !== modal) messages[k + 1] = r.byId.get(id)?.message ?? '(no result)';
    });
    out.push({ id, verdicts, messages });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: process.env.DETERMINISM_RUNS ?? '5' },
      jobs: { type: 'string', short: 'j', default: '2' },
      test: { type: 'string', short: 't', multiple: true },
      exclude: { type: 'string', short: 'x', multiple: true },
      keep: { type: 'string' },
      timeout: { type: 'string' },
    },
  });
  const n = Number(values.runs);
  if (!Number.isInteger(n) || n < 2) throw new Error(`--runs must be an integer ≥ 2 (got ${values.runs})`);
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
  const dir = resolve(values.keep ?? join(PROJECT_ROOT, 'bench', 'results', `determinism-${stamp}`));
  mkdirSync(dir, { recursive: true });
  const sel = [...(values.test ?? []).flatMap((t) => ['-t', t]), ...(values.exclude ?? []).flatMap((x) => ['-x', x])];
  if (values.timeout) sel.push('--timeout', values.timeout);
  const runs: RunVerdicts[] = [];
  for (let k = 1; k <= n; k++) {
    const file = join(dir, `run-${k}.jsonl`);
    const t0 = performance.now();
    const r = spawnSync(
      process.execPath,
      [CLI, ...sel, '-j', String(values.jobs), '-o', file, '--ktap', join(dir, `run-${k}.ktap`)],
      { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
    );
    const wallMs = performance.now() - t0;
    const results = readResults(file);
    const byId = new Map(results.results.map((x) => [x.id, x]));
    runs.push({ status: r.status, wallMs, complete: results.end !== undefined, byId });
    // 0 pass, 1 a case failed, 4 all skipped: anything else is the CLI itself going wrong
    if (r.status !== 0 && r.status !== 1 && r.status !== 4) process.stderr.write(r.stderr);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    process.stdout.write(
      `run ${k}/${n}: exit ${r.status}, ${byId.size} results, ${(wallMs / 1000).toFixed(1)} s${results.end ? '' : ', NO end record'} (load ${load})\n`,
    );
  }
  const diffs = compareRuns(runs);
  const ids = new Set(runs.flatMap((r) => [...r.byId.keys()]));
  if (diffs.length === 0) {
    process.stdout.write(`verdicts identical across ${n} runs for all ${ids.size} instances (results in ${dir})\n`);
    return runs.every((r) => r.complete) ? 0 : 1;
  }
  process.stdout.write(
    `${diffs.length} of ${ids.size} instances changed verdict across ${n} runs (results in ${dir}):\n`,
  );
  for (const d of diffs) {
    process.stdout.write(`  ${d.id}: ${d.verdicts.join(', ')}\n`);
    for (const [k, msg] of Object.entries(d.messages)) process.stdout.write(`    run ${k}: ${msg}\n`);
  }
  return 1;
}

if (basename(process.argv[1] ?? '') === 'determinism.js') process.exitCode = await main();
