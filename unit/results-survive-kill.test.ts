/** A runner killed mid-run leaves every finished result readable in its JSON-lines file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CLI, HARNESS_CASES } from './helpers.js';
import { readResults } from '../lib/report/results-file.js';

test('SIGKILL of the runner keeps every finished result', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-unit-'));
  const results = join(dir, 'r.jsonl');
  // the hang case has a 1.5 s timeout; kill the runner while it waits on it
  const child = spawn(process.execPath, [CLI, '--cases', HARNESS_CASES, '-o', results], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('not ok 2 harness.demo.sigbus')) resolve();
    });
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const file = readResults(results);
  assert.equal(file.end, undefined, 'a killed run has no end record');
  const ids = file.results.map((r) => r.id);
  assert.ok(ids.includes('harness.demo.pass_before'));
  assert.ok(ids.includes('harness.demo.sigbus'));
  assert.ok(!ids.includes('harness.demo.pass_after'));
});

test('a truncated last line (the write the kill interrupted) is ignored, earlier lines are kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-unit-'));
  const path = join(dir, 'r.jsonl');
  const run = JSON.stringify({ type: 'run', format: 1, suiteVersion: '0', started: '', kernel: 'k', arch: 'x86_64', host: 'h', platform: 'x86_64', kvm: {}, options: {} });
  const res = JSON.stringify({ type: 'result', id: 'a.b', case: 'a.b', family: 'a', verdict: 'pass', message: '', durationMs: 1 });
  writeFileSync(path, `${run}\n${res}\n{"type":"result","id":"a.c","ver`);
  const file = readResults(path);
  assert.deepEqual(file.results.map((r) => r.id), ['a.b']);
  void readFileSync;
});

test('a malformed line in the middle is a positioned error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-unit-'));
  const path = join(dir, 'r.jsonl');
  const run = JSON.stringify({ type: 'run', format: 1 });
  writeFileSync(path, `${run}\n{"type": "result", oops}\n{"type":"end","finished":"","totals":{},"exitCode":0}\n`);
  assert.throws(() => readResults(path), (e: Error) => /r\.jsonl:2:\d+: not valid JSON/.test(e.message));
});
