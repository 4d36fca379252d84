/** Runs the suite inside a guest kernel and brings its results back through a writable 9p share. */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT } from '../paths.js';
import { buildInitramfs, type InitramfsInfo } from './initramfs.js';
import { GUEST_OUT_DIR, OUT_TAG, ROOT_TAG, SUITE_GUEST_CMDLINE, jobScript } from './guest-init.js';
import { ensureQemu, runQemu, type Accel } from './qemu.js';
import { scanConsole } from './console.js';
import { resultsLeftAt } from '../report/results-writer.js';
import type { KernelTree } from './kernel-source.js';

/** The compiled CLI the guest runs (this very build, seen through the read-only host root). */
export const GUEST_CLI = resolve(fileURLToPath(new URL('../cli/main.js', import.meta.url)));

/**
 * Node options for the suite under TCG. V8's JIT writes code that TCG must then retranslate; with
 * --jitless a full run of the suite inside took 2 min instead of 3.5 (7.2, measured). Workers forked by
 * the harness inherit them. (Node 20 also needed --no-expose-wasm to keep V8 from warning about the
 * conflict; Node 24's V8 no longer has that flag and refuses to start with it, exit status 9.)
 */
export const NODE_ARGS_TCG = ['--jitless'];

/** Per-case timeouts are this many times longer in a TCG guest: measured, the EINTR cases' calibration alone takes 20-40 s there. */
export const TCG_TIMEOUT_SCALE = 4;

/** How a run ended: the suite completed; the kernel panicked/oopsed/hung; it never got to run the suite; or the kernel/QEMU could not be had. */
export type GuestOutcome = 'completed' | 'panic' | 'oops' | 'hang' | 'boot-failed' | 'qemu-failed' | 'unavailable';

/** One guest run. */
export interface GuestRunOptions {
  /** Kernel to boot. */ tree: KernelTree;
  /** Arguments for the suite's CLI inside (a `run` command line; -o and --platform are added). */ suiteArgs: string[];
  /** Platform label the results carry (default: the tree's label). */ platform?: string;
  /** Whole-boot limit. */ timeoutMs: number;
  /** Guest memory (default 2048 MiB). */ memoryMiB?: number;
  /** Guest CPUs (default 1). */ cpus?: number;
  /** NUMA nodes the guest memory is split into (default: none, one node). */ numaNodes?: number;
  /** Accelerator (default tcg). */ accel?: Accel;
  /** Extra kernel command-line words. */ append?: string[];
  /** Node options for the suite inside (default under TCG: --jitless, see NODE_ARGS_TCG). */ nodeArgs?: string[];
  /** Copy the guest's results file (as is) here. */ resultsOut?: string;
  /** Copy the console log here. */ consoleOut?: string;
  /** Copy the guest's KTAP here. */ ktapOut?: string;
}

/** What a guest run produced. */
export interface GuestRunReport {
  /** Label of the kernel. */ label: string;
  /** Its release. */ release: string;
  /** Where it came from. */ origin: string;
  /** How it ended. */ outcome: GuestOutcome;
  /** One line saying why, for anything but a clean completion. */ detail: string;
  /** The suite's exit status inside, when it completed. */ suiteExit: number | null;
  /** resultsOut, when the guest wrote a results file (copied there as is). */ resultsFile: string | null;
  /** Result lines in it. */ resultCount: number;
  /** The guest's KTAP. */ ktap: string;
  /** The suite's stderr inside the guest (last 4 KiB). */ stderr: string;
  /** Console lines around a panic/oops, or the last lines of a hang/boot failure. */ excerpt: string | null;
  /** Kernel warnings on the console. */ warnings: number;
  /** init.log: what the guest's init reported (modules loaded/failed, /dev/kvm, stages). */ init: Record<
    string,
    string
  >;
  /** Initramfs contents. */ initramfs: InitramfsInfo | null;
  /** Milliseconds: QEMU start → results status file, and the whole boot. */ timings: {
    bootToResultMs: number;
    totalMs: number;
  };
}

function readInitLog(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const sp = line.indexOf(' ');
    if (!line) continue;
    const key = sp < 0 ? line : line.slice(0, sp);
    const val = sp < 0 ? '' : line.slice(sp + 1);
    out[key] = key in out ? `${out[key]}; ${val}` : val;
  }
  return out;
}

function countResults(path: string): number {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"type":"result"')).length;
}

/** Boots a kernel, runs the suite inside with its own /dev/kvm, and always ends within the timeout with a classified outcome. */
export async function runInGuest(o: GuestRunOptions): Promise<GuestRunReport> {
  const started = Date.now();
  const qemu = ensureQemu();
  const work = mkdtempSync(join(tmpdir(), 'gmem-vm-'));
  const out = join(work, 'out');
  mkdirSync(out);
  const label = o.tree.label;
  try {
    const accel = o.accel ?? 'tcg';
    const initrd = join(work, 'initramfs.cpio');
    const initramfs = buildInitramfs(o.tree, initrd);
    const args = [...o.suiteArgs, '-o', `${GUEST_OUT_DIR}/results.jsonl`, '--platform', o.platform ?? label];
    writeFileSync(
      join(out, 'job.sh'),
      jobScript({
        cwd: PROJECT_ROOT,
        node: process.execPath,
        nodeArgs: o.nodeArgs ?? (accel === 'tcg' ? NODE_ARGS_TCG : []),
        cli: GUEST_CLI,
        args,
        env: {
          GMEM_IN_GUEST: '1',
          GMEM_TIMEOUT_SCALE: accel === 'tcg' ? String(TCG_TIMEOUT_SCALE) : '1',
          ...(o.tree.config ? { GMEM_KERNEL_CONFIG: o.tree.config } : {}),
        },
      }),
    );
    const consoleLog = join(work, 'console.log');
    const append = [
      'console=ttyS0',
      'panic=-1',
      'rdinit=/init',
      'nokaslr',
      'mitigations=off',
      `gmem.hostname=qemu-${accel}`,
      SUITE_GUEST_CMDLINE,
      ...(o.append ?? []),
    ].join(' ');
    const exit = await runQemu({
      qemu,
      kernel: o.tree.image,
      initrd,
      append,
      memoryMiB: o.memoryMiB ?? 2048,
      cpus: o.cpus ?? 1,
      numaNodes: o.numaNodes,
      accel,
      timeoutMs: o.timeoutMs,
      consoleLog,
      doneFile: join(out, 'status'),
      shares: [
        { tag: ROOT_TAG, path: '/', readonly: true },
        { tag: OUT_TAG, path: out, readonly: false },
      ],
    });
    const consoleText = existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : '';
    const findings = scanConsole(consoleText);
    const init = readInitLog(join(out, 'init.log'));
    const statusText = existsSync(join(out, 'status')) ? readFileSync(join(out, 'status'), 'utf8').trim() : null;
    const suiteExit = statusText !== null && /^\d+$/.test(statusText) ? Number(statusText) : null;
    // a completed run renamed results.jsonl.partial to results.jsonl; a killed one left the partial file
    const guestResults = resultsLeftAt(join(out, 'results.jsonl')) ?? join(out, 'results.jsonl');
    let resultsFile: string | null = null;
    if (existsSync(guestResults) && o.resultsOut) {
      resultsFile = resolve(o.resultsOut);
      mkdirSync(dirname(resultsFile), { recursive: true });
      copyFileSync(guestResults, resultsFile);
    }
    if (o.consoleOut) {
      mkdirSync(dirname(resolve(o.consoleOut)), { recursive: true });
      writeFileSync(o.consoleOut, consoleText);
    }
    const ktap = existsSync(join(out, 'ktap.txt')) ? readFileSync(join(out, 'ktap.txt'), 'utf8') : '';
    if (o.ktapOut && ktap) writeFileSync(o.ktapOut, ktap);
    const stderrFile = join(out, 'stderr.txt');
    const jobLog = join(out, 'job.log');
    const stderr = [stderrFile, jobLog]
      .filter(existsSync)
      .map((f) => readFileSync(f, 'utf8'))
      .join('')
      .slice(-4096);
    let outcome: GuestOutcome;
    let detail: string;
    if (suiteExit !== null) {
      outcome = findings.oops ? 'oops' : 'completed';
      detail = findings.oops
        ? `the suite completed (exit ${suiteExit}) but the kernel oopsed: ${findings.oops}`
        : `the suite exited ${suiteExit}`;
    } else if (findings.panic) {
      outcome = 'panic';
      detail = findings.panic;
    } else if (findings.oops) {
      outcome = 'oops';
      detail = `${findings.oops}${exit.timedOut ? ` (then no progress for the rest of the ${Math.round(o.timeoutMs / 1000)} s limit)` : ''}`;
    } else if (exit.timedOut) {
      outcome = 'hang';
      detail = `no result within ${Math.round(o.timeoutMs / 1000)} s (last stage: ${lastStage(init)}); QEMU was killed`;
    } else if (!consoleText.trim() && exit.code !== 0) {
      outcome = 'qemu-failed';
      detail = `QEMU exited ${exit.code ?? exit.signal}: ${exit.stderr.split('\n').pop() ?? ''}`;
    } else {
      outcome = 'boot-failed';
      const fatal = init.fatal ?? /gmem-init: fatal (.*)/.exec(consoleText)?.[1];
      const job = /job-end (\d+)/.exec(init.stage ?? '')?.[1];
      const why =
        job === '96'
          ? "; the job could not bind the project from the host's /tmp"
          : job === '97'
            ? '; the job could not enter the project directory'
            : job
              ? `; the job exited ${job}`
              : '';
      detail = fatal
        ? `guest init: ${fatal}`
        : `the guest stopped before the suite finished (last stage: ${lastStage(init)}${why}; QEMU exit ${exit.code ?? exit.signal})`;
    }
    return {
      label,
      release: o.tree.release,
      origin: o.tree.origin,
      outcome,
      detail,
      suiteExit,
      resultsFile,
      resultCount: existsSync(guestResults) ? countResults(guestResults) : 0,
      ktap,
      stderr,
      excerpt: outcome === 'completed' ? null : findings.excerpt,
      warnings: findings.warnings,
      init,
      initramfs,
      timings: { bootToResultMs: exit.doneMs, totalMs: Date.now() - started },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function lastStage(init: Record<string, string>): string {
  const s = init.stage;
  if (!s) return 'before the results share was mounted (modules or 9p)';
  return (s.split('; ').pop() ?? s).split(' ')[0] as string;
}
