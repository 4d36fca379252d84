/** A runner killed mid-run leaves every finished result readable in FILE.partial, FILE as it was, and no worker. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CLI, HARNESS_CASES, minimalRunLine } from './helpers.js';
import { readResults } from '../lib/report/results-file.js';
import { partialPath } from '../lib/report/results-writer.js';

/** Pids of a process's children (/proc/PID/task/TID/children). */
function childrenOf(pid: number): number[] {
  const children = (t: string) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(/\s+/).filter(Boolean);
  return readdirSync(`/proc/${pid}/task`).flatMap(children).map(Number);
}

/** True while a process exists and has not exited (a zombie waiting to be reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('SIGKILL of the runner keeps every finished result, the previous file whole, and takes the workers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-unit-'));
  const results = join(dir, 'r.jsonl');
  const previous = `${minimalRunLine({ started: 'before' })}\n`;
  writeFileSync(results, previous);
  // the hang case has a 1.5 s timeout; kill the runner while it waits on it
  const child = spawn(process.execPath, [CLI, '--cases', HARNESS_CASES, '-o', results], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('not ok 2 harness.demo.sigbus')) resolve();
    });
  });
  const workers = childrenOf(child.pid as number);
  assert.ok(workers.length > 0, 'the runner has workers while the hang case runs');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  // the worker running the hang case sits in Atomics.wait and never sees its IPC channel close: only
  // PR_SET_PDEATHSIG ends it with the runner
  const deadline = Date.now() + 5000;
  while (workers.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(workers.filter(alive), [], 'no worker outlives a SIGKILLed runner');
  assert.equal(readFileSync(results, 'utf8'), previous, 'the previous results are untouched until a run completes');
  const file = readResults(partialPath(results));
  assert.equal(file.end, undefined, 'a killed run has no end record');
  const ids = file.results.map((r) => r.id);
  assert.ok(ids.includes('harness.demo.pass_before'));
  assert.ok(ids.includes('harness.demo.sigbus'));
  assert.ok(!ids.includes('harness.demo.pass_after'));
  // the next run keeps the killed run's results aside and replaces the file only when it completes
  const next = spawnSync(
    process.execPath,
    [CLI, '--cases', HARNESS_CASES, '-t', 'harness.demo.pass_before', '-o', results, '--matrix', 'none'],
    { encoding: 'utf8' },
  );
  assert.equal(next.status, 0, next.stderr);
  assert.match(next.stderr, /the results a killed run left in .*r\.jsonl\.partial are kept as .*r\.jsonl\.killed-/);
  const aside = readdirSync(dir).filter((f) => f.startsWith('r.jsonl.killed-'));
  assert.equal(aside.length, 1);
  assert.deepEqual(
    readResults(join(dir, aside[0] as string)).results.map((r) => r.id),
    ids,
  );
  assert.deepEqual(
    readResults(results).results.map((r) => r.id),
    ['harness.demo.pass_before'],
  );
  assert.equal(existsSync(partialPath(results)), false);
});

test('a truncated last line (the write the kill interrupted) is ignored, earlier lines are kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-unit-'));
  const path = join(dir, 'r.jsonl');
  const run = minimalRunLine();
  const res = JSON.stringify({
    type: 'result',
    id: 'a.b',
    case: 'a.b',
    family: 'a',
    verdict: 'pass',
    message: '',
    durationMs: 1,
  });
  writeFileSync(path, `${run}\n${res}\n{"type":"result","id":"a.c","ver`);
  const file = readResults(path);
  assert.deepEqual(
    file.results.map((r) => r.id),
    ['a.b'],
  );
});

test('a malformed line in the middle is a positioned error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-unit-'));
  const path = join(dir, 'r.jsonl');
  const run = minimalRunLine();
  writeFileSync(path, `${run}\n{"type": "result", oops}\n{"type":"end","finished":"","totals":{},"exitCode":0}\n`);
  assert.throws(
    () => readResults(path),
    (e: Error) => /r\.jsonl:2:\d+: not valid JSON/.test(e.message),
  );
});
