/** Runs the suite on the live kernel as a child process, reported the same way as a guest run. */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { resultsLeftAt } from '../report/results-writer.js';
import { release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { GUEST_CLI, type GuestRunReport } from './guest-run.js';

/** Options of a host run. */
export interface HostRunOptions {
  /** Label (column) of the run. */ label: string;
  /** `run` arguments (-o and --platform are added). */ suiteArgs: string[];
  /** Results file to write. */ resultsOut: string;
  /** KTAP file to write. */ ktapOut?: string;
  /** Limit for the whole run; the suite is killed then. */ timeoutMs: number;
}

/** Runs the suite on the host kernel; never outlives timeoutMs. */
export function runOnHost(o: HostRunOptions): Promise<GuestRunReport> {
  const started = Date.now();
  const results = resolve(o.resultsOut);
  mkdirSync(dirname(results), { recursive: true });
  const args = [GUEST_CLI, ...o.suiteArgs, '-o', results, '--platform', o.label];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let ktap = '';
  let stderr = '';
  const ktapFile = o.ktapOut ? createWriteStream(o.ktapOut) : null;
  child.stdout.on('data', (d: Buffer) => {
    ktap += d.toString();
    ktapFile?.write(d);
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4096);
  });
  return new Promise((resolvePromise) => {
    let timedOut = false;
    const limit = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, o.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      ktapFile?.end();
      const ms = Date.now() - started;
      // a suite killed here (timeout) left its finished results in the partial file: bring them back as the results
      const left = resultsLeftAt(results);
      if (left && left !== results) renameSync(left, results);
      const have = existsSync(results);
      const count = have
        ? readFileSync(results, 'utf8')
            .split('\n')
            .filter((l) => l.includes('"type":"result"')).length
        : 0;
      resolvePromise({
        label: o.label,
        release: release(),
        origin: 'the live kernel (no VM)',
        outcome: timedOut ? 'hang' : code !== null ? 'completed' : 'boot-failed',
        detail: timedOut
          ? `the suite did not finish within ${Math.round(o.timeoutMs / 1000)} s and was killed`
          : code !== null
            ? `the suite exited ${code}`
            : `the suite was killed by ${signal}`,
        suiteExit: timedOut ? null : code,
        resultsFile: have ? results : null,
        resultCount: count,
        ktap,
        stderr,
        excerpt: null,
        warnings: 0,
        init: {},
        initramfs: null,
        timings: { bootToResultMs: ms, totalMs: ms },
      });
    });
  });
}
