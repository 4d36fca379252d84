/** matrix, compare, qualify and import on real runs of the live kernel. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cli, liveHasGuestMemfd } from './helpers.js';
import { readResults } from '../lib/report/results-file.js';

const dir = mkdtempSync(join(tmpdir(), 'gmem-report-'));
const live = join(dir, 'live.jsonl');

before(() => {
  // guest_memfd's families decide a feature only where the live kernel has guest_memfd; memfd's everywhere
  const r = cli([
    ...['gmem.create', 'gmem.fallocate', 'memslot.gmem', 'memfd.create', 'memfd.seals.check_order'].flatMap((s) => [
      '-t',
      s,
    ]),
    '-o',
    live,
    '-j',
    '2',
  ]);
  assert.ok(r.status === 0 || r.status === 1 || r.status === 4, r.stderr);
});

function rewrite(src: string, dst: string, edit: (r: Record<string, unknown>) => Record<string, unknown>): void {
  const lines = readFileSync(src, 'utf8')
    .trim()
    .split('\n')
    .map((l) => edit(JSON.parse(l) as Record<string, unknown>));
  writeFileSync(dst, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
}

test('compare flags an injected regression and exits 1', () => {
  const cand = join(dir, 'cand.jsonl');
  const victim = readResults(live).results.find((r) => r.verdict === 'pass')?.id as string;
  rewrite(live, cand, (r) =>
    r.id === victim
      ? { ...r, verdict: 'fail', message: 'expected EINVAL (22), but the call succeeded (ret=5)' }
      : r.type === 'run'
        ? { ...r, kernel: '9.9.9-rc1' }
        : r,
  );
  const md = join(dir, 'cmp.md');
  const js = join(dir, 'cmp.json');
  const c = cli(['compare', live, cand, '--markdown', md, '--json', js]);
  assert.equal(c.status, 1, c.stderr);
  assert.match(c.stdout, /1 regression\(s\)/);
  assert.match(c.stdout, new RegExp(`\`${victim.replace(/[.@]/g, '\\$&')}\`: pass → \\*\\*fail\\*\\*`));
  const json = JSON.parse(readFileSync(js, 'utf8')) as {
    regressions: { id: string }[];
    featuresLost: { id: string; after: string }[];
  };
  assert.deepEqual(
    json.regressions.map((r) => r.id),
    [victim],
  );
  assert.ok(
    json.featuresLost.some((f) => f.after === 'broken'),
    'the feature the case proves is now broken',
  );
  assert.equal(readFileSync(md, 'utf8'), c.stdout);
});

test('compare of a run with itself reports no regression and exits 0', () => {
  const c = cli(['compare', live, live]);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /No regressions/);
});

test('compare reports an errno change as a changed observation', () => {
  const cand = join(dir, 'errno.jsonl');
  const withObs = readResults(live).results.find((r) => r.observations && 'outcome' in r.observations);
  assert.ok(withObs, 'some case records an outcome');
  rewrite(live, cand, (r) =>
    r.id === withObs.id ? { ...r, observations: { ...(r.observations as object), outcome: 'EEXIST' } } : r,
  );
  const c = cli(['compare', live, cand]);
  assert.match(c.stdout, /Changed observations/);
  assert.match(c.stdout, /outcome: `"[A-Z]+"` → `"EEXIST"`/);
});

test('matrix merges two kernels into two columns and shows the differing cases', () => {
  const other = join(dir, 'other.jsonl');
  // the other kernel has no guest_memfd (its cases skip for the capability) and fails one memfd_create case
  rewrite(live, other, (r) =>
    r.type === 'run'
      ? { ...r, kernel: '6.1.0-old', kvm: { available: true, sysCaps: {}, vmCaps: {}, vmTypes: [0] } }
      : r.type === 'result' && String(r.id).startsWith('gmem.')
        ? {
            ...r,
            verdict: 'skip',
            message: 'needs KVM_CAP_GUEST_MEMFD (234): KVM_CHECK_EXTENSION on /dev/kvm returned 0',
          }
        : r.type === 'result' && r.id === 'memfd.create.flags@cloexec'
          ? { ...r, verdict: 'fail', message: 'expected FD_CLOEXEC, F_GETFD returned 0' }
          : r,
  );
  const out = join(dir, 'matrix');
  const m = cli(['matrix', live, other, '-o', out]);
  assert.equal(m.status, 0, m.stderr);
  const md = readFileSync(join(out, 'matrix.md'), 'utf8');
  assert.match(md, /\| feature \| x86_64 · \S+ \| x86_64 · 6\.1\.0-old \|/);
  const host = liveHasGuestMemfd() ? '✔ present' : '– absent';
  assert.match(md, new RegExp(`KVM_CREATE_GUEST_MEMFD \`guest_memfd\` \\| ${host} \\| – absent \\|`));
  assert.match(md, /memfd_create `memfd` \| ✔ present \| ✘ broken \|/);
  assert.match(md, /## Cases whose verdict differs between columns/);
  const json = JSON.parse(readFileSync(join(out, 'matrix.json'), 'utf8')) as {
    columns: unknown[];
    features: { id: string; cells: { state: string }[] }[];
  };
  assert.equal(json.columns.length, 2);
  assert.ok(existsSync(join(out, 'matrix.html')));
});

test('qualify explains why this host is not a TDX host', () => {
  const report = join(dir, 'tdx.md');
  const q = cli(['qualify', '--profile', 'tdx', '--results', live, '--report', report]);
  assert.equal(q.status, 1);
  assert.match(q.stdout, /FAIL {2}required {4}vm_type\.tdx +absent: KVM_CAP_VM_TYPES lists \[0(, \d)*\], not 5/);
  assert.match(q.stdout, /NOT QUALIFIED: Intel TDX/);
  assert.match(readFileSync(report, 'utf8'), /# Qualification: Intel TDX/);
  assert.ok(existsSync(join(dir, 'tdx.json')));
});

test('qualify --profile x86-default runs what the profile needs on the live kernel and decides every feature', {
  timeout: 300_000,
}, () => {
  const report = join(dir, 'x86.md');
  const q = cli(['qualify', '--profile', 'x86-default', '--report', report], { timeoutMs: 300_000 });
  assert.ok(q.status === 0 || q.status === 1, q.stderr);
  for (const f of ['guest_memfd', 'gmem.mmap', 'memslot2', 'memfd.seals'])
    assert.match(q.stdout, new RegExp(`^(PASS|FAIL) {2}required {4}${f.replace('.', '\\.')} `, 'm'));
  assert.match(q.stdout, /^(QUALIFIED|NOT QUALIFIED): x86_64, default VM type/m);
  assert.ok(existsSync(join(dir, 'qualify-x86-default.jsonl')), 'the run that backs the verdict is kept');
});

test('import turns kselftest TAP (with nested KTAP) into results the matrix merges into the same column', () => {
  const tap = join(dir, 'kselftest.tap');
  writeFileSync(
    tap,
    [
      'TAP version 13',
      '1..2',
      '# timeout set to 120',
      '# selftests: kvm: guest_memfd_test',
      '# TAP version 13',
      '# 1..2',
      '# ok 1 file_read_write',
      '# ok 2 mmap_supported # SKIP no mmap',
      '# # Totals: pass:1 fail:0 xfail:0 xpass:0 skip:1 error:0',
      'ok 1 selftests: kvm: guest_memfd_test',
      '# selftests: memfd: memfd_test',
      'not ok 2 selftests: memfd: memfd_test # exit=1',
      '',
    ].join('\n'),
  );
  const run = readResults(live).run;
  const out = join(dir, 'ks.jsonl');
  const r = cli(['import', tap, '-o', out, '--kernel', run.kernel, '--host', run.host, '--platform', run.platform]);
  assert.equal(r.status, 0, r.stderr);
  const res = readResults(out).results;
  assert.deepEqual(
    res.map((x) => [x.id, x.verdict]),
    [
      ['kselftest.kvm.guest_memfd_test', 'pass'],
      ['kselftest.kvm.guest_memfd_test.file_read_write', 'pass'],
      ['kselftest.kvm.guest_memfd_test.mmap_supported', 'skip'],
      ['kselftest.memfd.memfd_test', 'fail'],
    ],
  );
  const m = cli(['matrix', live, out, '-o', join(dir, 'mx2')]);
  const json = JSON.parse(readFileSync(join(dir, 'mx2', 'matrix.json'), 'utf8')) as {
    columns: unknown[];
    features: { id: string; cells: { state: string; cases: { id: string }[] }[] }[];
  };
  assert.equal(m.status, 0);
  assert.equal(json.columns.length, 1, 'same kernel/host/platform: one column');
  const gm = json.features.find((f) => f.id === 'guest_memfd');
  assert.ok(
    gm?.cells[0]?.cases.some((c) => c.id === 'kselftest.kvm.guest_memfd_test.file_read_write'),
    'kselftest evidence merged',
  );
  // the binary sums its subtests: the subtests are the evidence, not the binary
  assert.ok(
    !gm?.cells[0]?.cases.some((c) => c.id === 'kselftest.kvm.guest_memfd_test'),
    'the binary is no evidence of its own',
  );
  assert.equal(
    json.features.find((f) => f.id === 'memfd')?.cells[0]?.state,
    'broken',
    'the failing memfd_test marks memfd broken',
  );
});
