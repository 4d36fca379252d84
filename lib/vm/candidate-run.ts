/** Runs the suite on several candidate kernels (the host directly, the others in QEMU), N at a time, one results file each. */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { KernelSpec } from './candidates.js';
import {
  KernelUnavailable,
  prepareDebianKernel,
  prepareImageKernel,
  type KernelTree,
  type Log,
} from './kernel-source.js';
import { runInGuest, type GuestRunReport } from './guest-run.js';
import { runOnHost } from './host-run.js';
import { ensureQemu, QemuUnavailable, type Accel } from './qemu.js';
import { buildKernel, type BuildOptions } from './kernel-build.js';

/** A kernel ready to run: the host, or a prepared tree. */
export interface PreparedKernel {
  /** Label (column, results file name). */ label: string;
  /** The spec it came from. */ spec: KernelSpec;
  /** Boot tree; null for the host. */ tree: KernelTree | null;
}

/** Fetches/unpacks a spec, or builds it from source (cached). Throws KernelUnavailable with the reason. */
export function prepareKernel(spec: KernelSpec, log?: Log, build?: BuildOptions): PreparedKernel {
  if (spec.kind === 'host') return { label: spec.label, spec, tree: null };
  const tree =
    spec.kind === 'debian'
      ? prepareDebianKernel(spec, log)
      : spec.kind === 'build'
        ? buildKernel(spec, log ?? ((l) => process.stderr.write(`# kernels: ${l}\n`)), build)
        : prepareImageKernel(spec);
  return { label: tree.label, spec, tree };
}

/** The guest settings of a run: the command line's memory wins over the candidate's, its append words follow the candidate's. */
export function guestSettingsFor(
  spec: KernelSpec,
  o: Pick<RunKernelOptions, 'memoryMiB' | 'append' | 'numaNodes'>,
): { memoryMiB: number; cpus?: number; numaNodes?: number; append: string[] } {
  const g = spec.kind === 'host' ? undefined : spec.guest;
  return {
    memoryMiB: o.memoryMiB ?? g?.memoryMiB ?? DEFAULT_GUEST_MEMORY_MIB,
    cpus: g?.cpus,
    numaNodes: o.numaNodes ?? g?.numaNodes,
    append: [...(g?.append ?? []), ...(o.append ?? [])],
  };
}

/** Guest memory when neither the candidate nor the command line says. */
export const DEFAULT_GUEST_MEMORY_MIB = 2048;

/** Options shared by every kernel of a run. */
export interface RunKernelOptions {
  /** `run` arguments for the suite (selection, per-case timeout, -j 1). */ suiteArgs: string[];
  /** Limit per kernel (boot to end). */ timeoutMs: number;
  /** Accelerator for guests. */ accel: Accel;
  /** Guest memory from the command line (default: the candidate's, else DEFAULT_GUEST_MEMORY_MIB). */ memoryMiB?: number;
  /** Extra kernel command-line words. */ append?: string[];
  /** NUMA nodes from the command line (default: the candidate's). */ numaNodes?: number;
}

/** Where one kernel's outputs go. */
export interface KernelFiles {
  /** The results file (JSON lines, as the suite wrote it). */ results: string;
  /** The KTAP. */ ktap?: string;
  /** The guest's console log. */ console?: string;
}

/** The files of a label in a results directory: DIR/<label>.jsonl, .ktap, .console.log. */
export function filesIn(outDir: string, label: string): KernelFiles {
  const base = join(outDir, label);
  return { results: `${base}.jsonl`, ktap: `${base}.ktap`, console: `${base}.console.log` };
}

/** Runs the suite on one prepared kernel (stale outputs of an earlier run are removed first). */
export async function runKernel(k: PreparedKernel, files: KernelFiles, o: RunKernelOptions): Promise<GuestRunReport> {
  for (const f of [files.results, files.ktap, files.console]) if (f) rmSync(f, { force: true });
  if (!k.tree)
    return runOnHost({
      label: k.label,
      suiteArgs: o.suiteArgs,
      resultsOut: files.results,
      ktapOut: files.ktap,
      timeoutMs: o.timeoutMs,
    });
  const g = guestSettingsFor(k.spec, o);
  return runInGuest({
    tree: k.tree,
    suiteArgs: o.suiteArgs,
    timeoutMs: o.timeoutMs,
    accel: o.accel,
    memoryMiB: g.memoryMiB,
    cpus: g.cpus,
    numaNodes: g.numaNodes,
    append: g.append,
    resultsOut: files.results,
    ktapOut: files.ktap,
    consoleOut: files.console,
  });
}

/** A report for a kernel that never ran. */
export function unavailableReport(label: string, why: string): GuestRunReport {
  return {
    label,
    release: '',
    origin: '',
    outcome: 'unavailable',
    detail: why,
    suiteExit: null,
    resultsFile: null,
    resultCount: 0,
    ktap: '',
    stderr: '',
    excerpt: null,
    warnings: 0,
    init: {},
    initramfs: null,
    timings: { bootToResultMs: 0, totalMs: 0 },
  };
}

/** Options of a multi-kernel run. */
export interface CandidateRunOptions extends RunKernelOptions {
  /** Kernels, in column order. */ specs: KernelSpec[];
  /** Output directory. */ outDir: string;
  /** Kernels run at once. */ jobs: number;
  /** Progress lines. */ log: Log;
  /** Called as each kernel finishes. */ onReport?: (r: GuestRunReport) => void;
  /** How kernels built from source are built. */ build?: BuildOptions;
}

/** Prepares every kernel (sequentially: downloads are cached), then runs them `jobs` at a time; returns the reports in spec order. */
export async function runCandidates(o: CandidateRunOptions): Promise<GuestRunReport[]> {
  const outDir = resolve(o.outDir);
  mkdirSync(outDir, { recursive: true });
  const slots: (PreparedKernel | GuestRunReport)[] = [];
  const used = new Set<string>();
  const needsQemu = o.specs.some((s) => s.kind !== 'host');
  let qemuProblem: string | null = null;
  if (needsQemu) {
    try {
      ensureQemu();
    } catch (e) {
      if (!(e instanceof QemuUnavailable)) throw e;
      qemuProblem = e.message;
    }
  }
  for (const spec of o.specs) {
    const wanted = spec.label ?? (spec.kind === 'debian' ? `${spec.suite}-${spec.package}` : 'image');
    try {
      if (spec.kind !== 'host' && qemuProblem) throw new KernelUnavailable(qemuProblem);
      const k = prepareKernel(spec, (l) => o.log(`[${wanted}] ${l}`), o.build);
      let label = k.label;
      for (let n = 2; used.has(label); n++) label = `${k.label}-${n}`;
      used.add(label);
      slots.push({ ...k, label, tree: k.tree ? { ...k.tree, label } : null });
    } catch (e) {
      if (!(e instanceof KernelUnavailable)) throw e;
      let label = wanted.replace(/[^A-Za-z0-9._+-]/g, '_');
      for (let n = 2; used.has(label); n++) label = `${wanted}-${n}`;
      used.add(label);
      o.log(`[${label}] unavailable: ${e.message}`);
      slots.push(unavailableReport(label, e.message));
    }
  }
  const reports: GuestRunReport[] = new Array(slots.length);
  let next = 0;
  const worker = async () => {
    while (next < slots.length) {
      const i = next++;
      const s = slots[i] as PreparedKernel | GuestRunReport;
      if ('outcome' in s) {
        reports[i] = s;
        o.onReport?.(s);
        continue;
      }
      o.log(`[${s.label}] ${s.tree ? `booting ${s.tree.release} (${s.tree.origin})` : 'running on the host kernel'}`);
      const r = await runKernel(s, filesIn(outDir, s.label), o);
      reports[i] = r;
      o.log(
        `[${s.label}] ${r.outcome} in ${(r.timings.totalMs / 1000).toFixed(1)} s (boot to result ${(r.timings.bootToResultMs / 1000).toFixed(1)} s): ${r.resultCount} results; ${r.detail}`,
      );
      o.onReport?.(r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs, slots.length)) }, worker));
  const summary = reports.map((r) => ({
    ...r,
    ktap: undefined,
    resultsFile: r.resultsFile && existsSync(r.resultsFile) ? r.resultsFile : null,
  }));
  writeFileSync(join(outDir, 'kernels.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return reports;
}
