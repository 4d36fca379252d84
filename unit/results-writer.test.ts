/** The results writer never loses what exists: one writer per file, outputs checked before anything is touched, old results kept until a run completes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, HARNESS_CASES, cli, useScratchDirs, minimalRunLine } from './helpers.js';
import { readResults } from '../lib/report/results-file.js';
import { lockPath, partialPath } from '../lib/report/results-writer.js';

const scratch = useScratchDirs();

const PREVIOUS = `${minimalRunLine({ started: 'before' })}\n`;

/** A fixtures directory of its own (an empty one: no fixture applies). */
function ownFixtures(dir: string): string {
  const f = join(dir, 'fixtures');
  mkdirSync(join(f, 'expectations'), { recursive: true });
  return f;
}

/** The worker processes of a runner: its children (/proc/PID/task/TID/children). */
function workersOf(runner: number): number[] {
  const children = (t: string) =>
    readFileSync(`/proc/${runner}/task/${t}/children`, 'utf8').split(/\s+/).filter(Boolean);
  return readdirSync(`/proc/${runner}/task`).flatMap(children).map(Number);
}

/** True while a process exists and has not exited (a zombie waiting to be reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function startRun(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const until = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (re.test(out)) {
          clearInterval(t);
          resolve();
        }
      }, 20);
      void exited.then(() => {
        clearInterval(t);
        if (re.test(out)) resolve();
        else reject(new Error(`the run ended before ${re}: ${out}\n${err}`));
      });
    });
  return { child, exited, until, output: () => ({ out, err }) };
}

test("a second writer of the same results file is refused with exit 2; the first run's file is whole", async () => {
  const dir = scratch('gmem-lock-');
  const results = join(dir, 'r.jsonl');
  const first = startRun(['--cases', HARNESS_CASES, '--fixtures', ownFixtures(dir), '-o', results, '--matrix', 'none']);
  await first.until(/ok 1 harness\.demo\.pass_before/);
  const second = cli(['--cases', HARNESS_CASES, '-o', results, '--matrix', 'none']);
  assert.equal(second.status, 2, second.stderr);
  assert.match(
    second.stderr,
    /r\.jsonl: another gmem-conformance process \(pid \d+\) is writing this results file \(it holds .*r\.jsonl\.lock\); wait for it to finish or give another -o/,
  );
  assert.equal(second.stdout, '', 'the refused run printed no KTAP');
  const done = await first.exited;
  assert.equal(done.code, 1, first.output().err);
  const text = readFileSync(results, 'utf8');
  assert.equal(text.includes('\u0000'), false, 'no NUL bytes');
  const file = readResults(results);
  assert.ok(file.end, 'the first run completed its file');
  assert.equal(new Set(file.results.map((r) => r.id)).size, file.results.length);
  assert.equal(existsSync(lockPath(results)), false, 'the lock file is gone after the run');
  assert.equal(existsSync(partialPath(results)), false);
});

test('unusable output paths are refused before anything is touched', () => {
  const dir = scratch('gmem-out-');
  const results = join(dir, 'r.jsonl');
  writeFileSync(results, PREVIOUS);
  mkdirSync(join(dir, 'adir'));
  writeFileSync(join(dir, 'afile'), 'x');
  const cases: [string[], RegExp][] = [
    [['--ktap', '/proc/gmem.ktap'], /--ktap: \/proc\/gmem\.ktap: cannot create files in \/proc/],
    [['--ktap', join(dir, 'adir')], /--ktap: .*adir is a directory, not a file/],
    [['--ktap', join(dir, 'afile', 'k.ktap')], /--ktap: .*afile\/k\.ktap: .*afile is not a directory/],
    [['--ktap', results], /-o\/--results and --ktap name the same file/],
    [['--ktap', ''], /--ktap expects a file name/],
    [['--matrix', join(dir, 'afile')], /--matrix: .*afile is not a directory/],
    [['--matrix', '/proc/m'], /--matrix: \/proc\/m: cannot create files in \/proc/],
    [
      ['--ktap', join(ownFixtures(dir), 'expectations', 'k.yaml'), '--fixtures', join(dir, 'fixtures')],
      /--ktap: .* is inside the --fixtures directory/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = cli(['--cases', HARNESS_CASES, '-o', results, ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(readFileSync(results, 'utf8'), PREVIOUS, `${args.join(' ')}: the previous results are untouched`);
    assert.equal(existsSync(partialPath(results)), false);
    assert.equal(existsSync(lockPath(results)), false);
  }
  const bad: [string[], RegExp][] = [
    [['-o', '/proc/r.jsonl'], /-o\/--results: \/proc\/r\.jsonl: cannot create files in \/proc/],
    [['-o', '/dev/null'], /-o\/--results: \/dev\/null is not a regular file/],
    [['-o', join(dir, 'adir')], /-o\/--results: .*adir is a directory, not a file/],
    [['-o', join(dir, 'afile', 'r.jsonl')], /afile is not a directory/],
    [['-o', `${dir}/`], /-o\/--results expects a file name|is a directory/],
  ];
  for (const [args, message] of bad) {
    const r = cli(['--cases', HARNESS_CASES, ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.equal(readFileSync(join(dir, 'afile'), 'utf8'), 'x');
  assert.ok(existsSync('/dev/null') && !existsSync('/proc/r.jsonl'));
});

test('no command writes an output over one of its inputs', () => {
  const dir = scratch('gmem-inout-');
  const results = join(dir, 'r.jsonl');
  const r = cli(['--cases', HARNESS_CASES, '-t', 'harness.demo.pass_before', '-o', results, '--matrix', 'none']);
  assert.equal(r.status, 0, r.stderr);
  const before = readFileSync(results, 'utf8');
  const tap = join(dir, 'k.tap');
  writeFileSync(tap, 'TAP version 13\n1..1\nok 1 selftests: kvm: guest_memfd_test\n');
  mkdirSync(join(dir, 'm'));
  const asMatrix = join(dir, 'm', 'matrix.json');
  writeFileSync(asMatrix, before);
  const cases: [string[], RegExp, string][] = [
    [['compare', results, results, '--json', results], /--json: .*r\.jsonl is also an input/, results],
    [['compare', results, results, '--markdown', results], /--markdown: .*r\.jsonl is also an input/, results],
    [
      ['compare', results, results, '--markdown', join(dir, 'x'), '--json', join(dir, 'x')],
      /--markdown and --json name the same file/,
      results,
    ],
    [['matrix', asMatrix, '-o', join(dir, 'm')], /-o: .*matrix\.json is also an input/, asMatrix],
    [['export', 'junit', results, '-o', results], /-o: .*r\.jsonl is also an input/, results],
    [['export', 'kcidb', results, '-o', results], /-o: .*r\.jsonl is also an input/, results],
    [['export', 'lava-results', results, '-o', results], /-o: .*r\.jsonl is also an input/, results],
    [['import', tap, '-o', tap], /-o: .*k\.tap is also an input/, tap],
    [
      ['qualify', '--profile', 'x86-default', '--results', results, '--report', results],
      /--report: .*r\.jsonl is also an input/,
      results,
    ],
    [
      ['qualify', '--profile', 'x86-default', '--results', join(dir, 'q.json'), '--report', join(dir, 'q.md')],
      /--report \(JSON beside it\): .*q\.json is also an input/,
      results,
    ],
  ];
  writeFileSync(join(dir, 'q.json'), before);
  for (const [args, message, input] of cases) {
    const x = cli(args);
    assert.equal(x.status, 2, `${args.join(' ')}: ${x.stderr}`);
    assert.match(x.stderr, message);
    assert.equal(
      readFileSync(input, 'utf8'),
      input === tap ? 'TAP version 13\n1..1\nok 1 selftests: kvm: guest_memfd_test\n' : before,
      `${args.join(' ')}: the input is untouched`,
    );
  }
});

test('SIGTERM and SIGINT stop the runner and its workers; the finished results stay in FILE.partial', async () => {
  for (const [sig, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    const dir = scratch('gmem-sig-');
    const results = join(dir, 'r.jsonl');
    writeFileSync(results, PREVIOUS);
    const fixtures = ownFixtures(dir);
    const run = startRun([
      '--cases',
      HARNESS_CASES,
      '--fixtures',
      fixtures,
      '-o',
      results,
      '--matrix',
      'none',
      '-j',
      '2',
    ]);
    await run.until(/ok 1 harness\.demo\.pass_before/);
    // the second worker may still be starting when the first result is out (CI saw one child): wait for it
    let workers = workersOf(run.child.pid as number);
    for (let waited = 0; workers.length < 2 && waited < 10_000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      workers = workersOf(run.child.pid as number);
    }
    assert.ok(workers.length >= 2, `the runner and its workers are running (children: ${workers.join(' ')})`);
    run.child.kill(sig);
    const end = await run.exited;
    assert.equal(end.code, code, run.output().err);
    assert.match(
      run.output().err,
      new RegExp(`interrupted by ${sig}: the finished results are in .*r\\.jsonl\\.partial`),
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(workers.filter(alive), [], 'no worker outlives the runner');
    assert.equal(readFileSync(results, 'utf8'), PREVIOUS, 'the previous results file was not replaced');
    const partial = readResults(partialPath(results));
    assert.equal(partial.end, undefined);
    assert.ok(partial.results.some((r) => r.id === 'harness.demo.pass_before'));
    assert.ok(
      partial.results.every((r) => !/killed by SIG/.test(r.message) || r.id === 'harness.demo.sigbus'),
      'the stop is not recorded as cases that crashed',
    );
  }
});

test('/dev/kvm answering ENOTTY: the KVM cases skip with the reason, the run completes, nothing is truncated before', (t) => {
  const dir = scratch('gmem-enotty-');
  const results = join(dir, 'r.jsonl');
  writeFileSync(results, PREVIOUS);
  // a private mount namespace: /dev/null bound over /dev/kvm for this run only
  const probe = spawnSync('unshare', ['-m', '--propagation', 'private', 'true']);
  if (probe.status !== 0 || !existsSync('/dev/kvm')) {
    t.skip('needs unshare -m (root) and /dev/kvm');
    return;
  }
  const r = spawnSync(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount --bind /dev/null /dev/kvm && exec "$@"',
      'sh',
      process.execPath,
      CLI,
      '-t',
      'gmem.create.size_zero',
      '-t',
      'memfd.create.flags',
      '-o',
      results,
      '--matrix',
      'none',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.notEqual(r.status, 3, r.stderr);
  assert.ok(r.status === 0 || r.status === 4, `${r.status}: ${r.stderr}`);
  assert.match(
    r.stdout,
    /gmem\.create\.size_zero.* # SKIP .*\/dev\/kvm is not a KVM device: KVM_GET_API_VERSION failed with ENOTTY \(25\)/,
  );
  const file = readResults(results);
  assert.ok(file.end);
  assert.equal(file.run.kvm.available, false);
});

test('compare refuses to call a killed candidate run a pass', () => {
  const dir = scratch('gmem-cmp-');
  const base = join(dir, 'base.jsonl');
  const r = cli([
    '--cases',
    HARNESS_CASES,
    '-t',
    'harness.demo.pass_before',
    '-t',
    'harness.demo.pass_after',
    '-t',
    'harness.demo.fresh',
    '-o',
    base,
    '--matrix',
    'none',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(base, 'utf8').trim().split('\n');
  const killed = join(dir, 'killed.jsonl');
  writeFileSync(killed, `${lines.slice(0, 2).join('\n')}\n`); // the run record and one result, no end
  const c = cli(['compare', base, killed]);
  assert.equal(c.status, 1, c.stdout + c.stderr);
  assert.match(
    c.stdout,
    /\*\*Incomplete candidate run\*\*: .*killed\.jsonl has no end record: the run was killed .* after 1 result\(s\); 2 case\(s\) of the baseline have no result in it/,
  );
  assert.doesNotMatch(c.stdout, /\*\*No regressions\.\*\*/);
  assert.match(c.stderr, /the candidate run is incomplete/);
  const same = cli(['compare', base, base]);
  assert.equal(same.status, 0);
  assert.match(same.stdout, /\*\*No regressions\.\*\*/);
  const reversed = cli(['compare', killed, base]);
  assert.equal(reversed.status, 0, 'an incomplete baseline is reported, the complete candidate decides');
  assert.match(reversed.stdout, /Incomplete baseline run/);
});
