/** Runs one QEMU process for a guest: always bounded in time, always killed on timeout or when this process exits. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../paths.js';

/** QEMU or its helpers cannot be had; the message is the exact reason. */
export class QemuUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QemuUnavailable';
  }
}

let qemuPath: string | undefined;

/** Installs QEMU, busybox-static, kmod, xz and zstd when missing (ci/kernels/install-qemu.sh) and returns the qemu binary. */
export function ensureQemu(): string {
  if (qemuPath) return qemuPath;
  const script = join(PROJECT_ROOT, 'ci', 'kernels', 'install-qemu.sh');
  const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 20 * 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    const last = (r.stderr ?? '').trim().split('\n').filter(Boolean).pop() ?? `exit ${r.status ?? r.signal}`;
    throw new QemuUnavailable(`QEMU cannot be installed: ${last.replace(/^install-qemu: (error: )?/, '')}`);
  }
  qemuPath = r.stdout.trim().split('\n').pop() as string;
  return qemuPath;
}

/** How the guest CPU is provided: TCG (emulation, works everywhere) or KVM (hardware virtualisation on the host). */
export type Accel = 'tcg' | 'kvm';

/** 'kvm' when /dev/kvm is usable and the host CPU shows vmx or svm (real hardware), else 'tcg'. PVM hosts (no vmx/svm) cannot boot stock kernels with KVM. */
export function autoAccel(): Accel {
  try {
    if (!existsSync('/dev/kvm')) return 'tcg';
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
    return /\b(vmx|svm)\b/.test(flags) ? 'kvm' : 'tcg';
  } catch {
    return 'tcg';
  }
}

/** A directory shared into the guest over 9p. */
export interface Share {
  tag: string;
  path: string;
  readonly: boolean;
}

/** One QEMU boot. */
export interface QemuOptions {
  /** QEMU binary. */ qemu: string;
  /** Kernel image. */ kernel: string;
  /** Initramfs. */ initrd: string;
  /** Kernel command line. */ append: string;
  /** 9p shares. */ shares: Share[];
  /** Guest memory. */ memoryMiB: number;
  /** Guest CPUs. */ cpus: number;
  /** NUMA nodes: the memory is split evenly among them, the CPUs go round-robin (default: no -numa, one node). */ numaNodes?: number;
  /** Accelerator. */ accel: Accel;
  /** Hard limit for the whole boot; QEMU is killed then. */ timeoutMs: number;
  /** Serial console log file. */ consoleLog: string;
  /** When this file appears the guest has finished; QEMU gets graceMs to exit on its own, then is killed. */ doneFile?: string;
  /** Grace after doneFile (default 20 s). */ graceMs?: number;
}

/** How QEMU ended. */
export interface QemuExit {
  /** Exit status, or null when killed by a signal. */ code: number | null;
  /** Signal that ended it. */ signal: string | null;
  /** The time limit was hit and QEMU was killed. */ timedOut: boolean;
  /** doneFile appeared. */ done: boolean;
  /** Milliseconds from spawn to doneFile (or exit when it never appeared). */ doneMs: number;
  /** Milliseconds from spawn to exit. */ ms: number;
  /** QEMU's own stderr (its errors, not the guest's). */ stderr: string;
}

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const c of live) c.kill('SIGTERM');
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** -object/-numa arguments splitting memoryMiB into `nodes` RAM backends (the last takes the remainder); CPUs round-robin; none for one node. */
export function numaArgs(memoryMiB: number, cpus: number, nodes: number): string[] {
  if (nodes <= 1) return [];
  const each = Math.floor(memoryMiB / nodes);
  const out: string[] = [];
  for (let n = 0; n < nodes; n++) {
    const size = n === nodes - 1 ? memoryMiB - each * (nodes - 1) : each;
    const mine = Array.from({ length: cpus }, (_x, c) => c).filter((c) => c % nodes === n);
    out.push(
      '-object',
      `memory-backend-ram,id=gmem-node${n},size=${size}M`,
      '-numa',
      `node,nodeid=${n},memdev=gmem-node${n}${mine.map((c) => `,cpus=${c}`).join('')}`,
    );
  }
  return out;
}

/** The QEMU command line (without the binary) for a boot. */
export function qemuArgs(o: QemuOptions): string[] {
  const args = [
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-accel',
    o.accel,
    '-cpu',
    o.accel === 'kvm' ? 'host' : 'max',
    '-smp',
    String(o.cpus),
    '-m',
    `${o.memoryMiB}M`,
    '-kernel',
    o.kernel,
    '-initrd',
    o.initrd,
    '-append',
    o.append,
    '-serial',
    `file:${o.consoleLog}`,
  ];
  args.push(...numaArgs(o.memoryMiB, o.cpus, o.numaNodes ?? 1));
  for (const s of o.shares)
    args.push(
      '-virtfs',
      `local,path=${s.path},mount_tag=${s.tag},security_model=none,multidevs=remap${s.readonly ? ',readonly=on' : ''}`,
    );
  return args;
}

/**
 * Boots QEMU and waits for it to end. It runs under timeout(1) with a deadline a little past ours,
 * so even if this process is SIGKILLed QEMU does not outlive the limit.
 */
export function runQemu(o: QemuOptions): Promise<QemuExit> {
  hookExit();
  const hardSec = Math.ceil(o.timeoutMs / 1000) + 15;
  const child = spawn('timeout', ['--kill-after=5', String(hardSec), o.qemu, ...qemuArgs(o)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  live.add(child);
  const started = Date.now();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 16384) stderr += d.toString();
  });
  return new Promise((resolvePromise) => {
    let timedOut = false;
    let doneAt = 0;
    const kill = () => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    };
    const limit = setTimeout(() => {
      timedOut = !doneAt;
      kill();
    }, o.timeoutMs);
    const poll = setInterval(() => {
      if (!doneAt && o.doneFile && existsSync(o.doneFile)) {
        doneAt = Date.now();
        setTimeout(kill, o.graceMs ?? 20_000).unref();
      }
    }, 200);
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      clearInterval(poll);
      live.delete(child);
      const now = Date.now();
      if (!doneAt && o.doneFile && existsSync(o.doneFile)) doneAt = now;
      // timeout(1) exits 124 when its own deadline hit, 137 after --kill-after
      resolvePromise({
        code: signal ? null : code,
        signal,
        timedOut: timedOut || (!doneAt && (code === 124 || code === 137)),
        done: doneAt > 0,
        doneMs: (doneAt || now) - started,
        ms: now - started,
        stderr: stderr.trim(),
      });
    });
    child.on('error', (e) => {
      stderr += `\n${e.message}`;
    });
  });
}
