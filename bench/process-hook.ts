/**
 * Loaded into every node process of a measured run (NODE_OPTIONS=--import=<this file>): when the
 * process exits normally it appends one JSON line to $GMEM_BENCH_PROCLOG with its role (runner,
 * worker), its lifetime and its peak RSS (VmHWM). Measurement only: it changes nothing the process
 * does. Each spawnSync() of a worker (probe-exec children, commands) is also timed from the worker's
 * side and logged as a `spawn` record (role spawn, probe = the command), so that children killed by
 * SIGBUS/SIGSEGV are counted too.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createRequire, syncBuiltinESMExports } from 'node:module';

/** One process's record. */
export interface ProcessRecord {
  /** runner (lib/cli/main.js), worker, spawn, or the script's basename. */ role: string;
  /** Process id. */ pid: number;
  /** Wall-clock start and end, ms since the epoch. */ startMs: number;
  endMs: number;
  /** Peak and final RSS in kB. */ hwmKb: number;
  rssKb: number;
  /** Exit code. */ code: number;
  /** CPU, user + sys, ms: of the process; for spawns, of the child (10 ms steps; killed children too). */
  cpuMs?: number;
  /** For spawns: the command's basename (probe-exec for probe children). */ probe?: string;
  /** For spawns: the signal that ended the child, if any. */ signal?: string | null;
}

const log = process.env.GMEM_BENCH_PROCLOG;
const script = process.argv[1] ?? '';
const ROLES: Record<string, string> = { 'main.js': 'runner', 'worker.js': 'worker' };

/** kB value of a /proc/self/status field. */
function statusKb(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : -1;
}

if (log) {
  const role = ROLES[basename(script)] ?? basename(script);
  process.on('exit', (code) => {
    const rec: ProcessRecord = {
      role,
      pid: process.pid,
      startMs: performance.timeOrigin,
      endMs: Date.now(),
      hwmKb: statusKb('VmHWM'),
      rssKb: statusKb('VmRSS'),
      code,
      cpuMs: (() => {
        const u = process.resourceUsage();
        return Math.round((u.userCPUTime + u.systemCPUTime) / 100) / 10;
      })(),
    };
    try {
      appendFileSync(log, `${JSON.stringify(rec)}\n`);
    } catch {
      // a process that ran out of fds cannot log; it is simply missing from the profile
    }
  });
}

/** USER_HZ: the unit of /proc/PID/stat's times (100 on every Linux architecture the suite runs on). */
const CLOCK_TICKS = 100;

/** cutime + cstime of this process: CPU of its waited-for children (and theirs), however they ended. */
function childTicks(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[13]) + Number(f[14]);
}

if (log && ROLES[basename(script)] === 'worker') {
  // time every spawnSync of the worker (probes and commands cases run), however the child ends
  const cp = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const original = cp.spawnSync;
  const timed = function (this: unknown, ...args: unknown[]) {
    const startMs = Date.now();
    const ticks0 = childTicks();
    const r = (original as (...a: unknown[]) => ReturnType<typeof original>).apply(this, args);
    const cpuMs = ((childTicks() - ticks0) * 1000) / CLOCK_TICKS;
    const what = basename(String(args[0]));
    const rec: ProcessRecord = {
      role: 'spawn',
      pid: r.pid ?? -1,
      startMs,
      endMs: Date.now(),
      hwmKb: -1,
      rssKb: -1,
      code: r.status ?? -1,
      probe: what,
      signal: r.signal,
      cpuMs,
    };
    try {
      appendFileSync(log, `${JSON.stringify(rec)}\n`);
    } catch {
      // out of fds: not logged
    }
    return r;
  };
  cp.spawnSync = timed as typeof original;
  syncBuiltinESMExports();
}
