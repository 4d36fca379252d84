/**
 * Fault injection: cases that exhaust the fd table, run out of address space or JS heap, segfault,
 * exit, or SIGKILL their own worker (unit/fault-cases/) each become exactly one `not ok` naming the
 * cause, and the case after each of them (in the same worker under -j 1) still passes with the
 * worker's original limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cli, ROOT } from './helpers.js';
import { readResults } from '../lib/report/results-file.js';
import type { CaseResult } from '../lib/harness/verdict.js';
import { HEAP_IN_RESERVED_CAGE } from './fault-cases/faults.js';

/** Compiled fault-injection cases. */
const FAULT_CASES = resolve(fileURLToPath(new URL('./fault-cases', import.meta.url)));

/** What each case must end as: verdict, a pattern its message must match, and the signal for crashes. */
const EXPECTED: Record<string, { verdict: string; message?: RegExp; signal?: string }> = {
  'fault.fd.before': { verdict: 'pass' },
  'fault.fd.emfile': {
    verdict: 'fail',
    message: /^memfd_create #\d+ under soft RLIMIT_NOFILE \d+ failed: EMFILE \(24\)$/,
  },
  'fault.fd.intact_after_emfile': { verdict: 'pass' },
  'fault.fd.exhausted_at_exit': { verdict: 'error', message: /worker/ },
  'fault.fd.intact_after_exhausted_at_exit': { verdict: 'pass' },
  'fault.mem.mmap_enomem': {
    verdict: 'fail',
    message: /^mmap of 1 GiB under RLIMIT_AS 64 MiB above the worker's size failed: ENOMEM \(12\)$/,
  },
  'fault.mem.intact_after_mmap_enomem': { verdict: 'pass' },
  'fault.mem.probe_enomem': {
    verdict: 'fail',
    message: /^probe child: mmap of 1 GiB under RLIMIT_AS 64 MiB failed: ENOMEM \(12\)$/,
  },
  'fault.mem.heap_oom': HEAP_IN_RESERVED_CAGE
    ? { verdict: 'skip', message: /pointer compression/ }
    : { verdict: 'fail', message: /^crashed: killed by SIGABRT/, signal: 'SIGABRT' },
  'fault.mem.intact_after_heap_oom': { verdict: 'pass' },
  'fault.crash.sigsegv': { verdict: 'fail', message: /^crashed: killed by SIGSEGV/, signal: 'SIGSEGV' },
  'fault.crash.intact_after_sigsegv': { verdict: 'pass' },
  'fault.crash.exit_status_3': { verdict: 'error', message: /^worker exited with status 3 during the case/ },
  'fault.crash.intact_after_exit_status_3': { verdict: 'pass' },
  'fault.crash.sigkill_self': { verdict: 'fail', message: /^crashed: killed by SIGKILL/, signal: 'SIGKILL' },
  'fault.crash.intact_after_sigkill_self': { verdict: 'pass' },
};

/** Runs the fault cases with -j jobs; returns the CLI's outcome, the results by id and the KTAP lines. */
function runFaults(jobs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-fault-'));
  const results = join(dir, 'r.jsonl');
  const r = cli(['--cases', FAULT_CASES, '-o', results, '--fixtures', join(ROOT, 'fixtures'), '-j', String(jobs)], {
    timeoutMs: 120_000,
  });
  const file = readResults(results);
  const byId = new Map<string, CaseResult[]>();
  for (const x of file.results) byId.set(x.id, [...(byId.get(x.id) ?? []), x]);
  return { r, file, byId, lines: r.stdout.split('\n') };
}

/** The single result of id (asserts there is exactly one). */
function only(byId: Map<string, CaseResult[]>, id: string): CaseResult {
  const rs = byId.get(id) ?? [];
  assert.equal(rs.length, 1, `${id}: ${rs.length} results`);
  return rs[0] as CaseResult;
}

for (const jobs of [1, 2]) {
  test(`every fault is one not ok with its cause and every other result is intact (-j ${jobs})`, async (t) => {
    const { r, file, byId, lines } = runFaults(jobs);
    assert.equal(r.status, 1, `exit status ${r.status}\n${r.stdout}\n${r.stderr}`);
    assert.ok(file.end, 'the run wrote its end record');
    assert.equal(file.results.length, Object.keys(EXPECTED).length, 'one result per case');
    for (const [id, want] of Object.entries(EXPECTED)) {
      const got = only(byId, id);
      assert.equal(got.verdict, want.verdict, `${id}: ${got.verdict} (${got.message})`);
      if (want.message) assert.match(got.message, want.message, id);
      if (want.signal) assert.equal(got.signal, want.signal, id);
      // KTAP: exactly one test line for the instance, ok for a pass and not ok for everything else
      const ktap = lines.filter((l) => new RegExp(`^ {2}(not )?ok \\d+ ${id.replace(/\./g, '\\.')}( |$)`).test(l));
      assert.equal(ktap.length, 1, `${id}: KTAP lines ${JSON.stringify(ktap)}`);
      assert.equal(
        (ktap[0] as string).trimStart().startsWith('ok '),
        want.verdict === 'pass' || want.verdict === 'skip',
        ktap[0],
      );
    }
    const totals = HEAP_IN_RESERVED_CAGE
      ? '# Totals: pass:8 fail:5 xfail:0 xpass:0 skip:1 error:2'
      : '# Totals: pass:8 fail:6 xfail:0 xpass:0 skip:0 error:2';
    assert.ok(lines.includes(totals), lines.filter((l) => l.startsWith('# Totals')).join());
    // The cause of a worker that died in the harness's own code (an uncaught EMFILE from the leak
    // check) or of V8 running out of heap must reach the message: the worker reports a throw around
    // the case as fatal, and the runner keeps V8's FATAL ERROR line of stderr.
    await t.test('the message of a worker killed by EMFILE in the harness names EMFILE', () => {
      assert.match(only(byId, 'fault.fd.exhausted_at_exit').message, /EMFILE/);
    });
    await t.test(
      'the message of a worker aborted by V8 names the heap exhaustion',
      { skip: HEAP_IN_RESERVED_CAGE },
      () => {
        assert.match(only(byId, 'fault.mem.heap_oom').message, /out of memory/);
      },
    );
  });
}
