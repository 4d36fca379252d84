/** The suite's KTAP parses cleanly with the kernel's own parser (kunit.py parse from linux-source). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cli, HARNESS_CASES } from './helpers.js';
import { kunitPy } from './export-helpers.js';

const parser = kunitPy();

function parse(ktap: string): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-kunit-'));
  const file = join(dir, 'out.ktap');
  writeFileSync(file, ktap);
  const r = spawnSync('python3', [parser.path as string, 'parse', file], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('kunit.py parses a run with every verdict and counts it as the suite does', { skip: parser.why ?? false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-kunit-'));
  const r = cli(['--cases', HARNESS_CASES, '-o', join(dir, 'r.jsonl')]);
  const p = parse(r.stdout);
  assert.match(p.out, /Testing complete\. Ran 12 tests: passed: 5, failed: 6, skipped: 1/);
  assert.doesNotMatch(p.out, /\[ERROR\]|could not parse|unexpected|Test plan/i);
});

test('kunit.py parses a live-kernel run of the gmem families without complaint', { skip: parser.why ?? false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-kunit-'));
  const r = cli(['-t', 'gmem.create', '-o', join(dir, 'r.jsonl')]);
  const p = parse(r.stdout);
  const m = /Testing complete\. Ran (\d+) tests/.exec(p.out);
  assert.ok(m, p.out.slice(-2000));
  assert.equal(Number(m[1]), (r.stdout.match(/^ {2}(not )?ok \d+ /gm) ?? []).length);
  assert.doesNotMatch(p.out, /\[ERROR\]|could not parse|unexpected/i);
});
