/** Paths and small utilities shared by the project's own unit tests. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { after } from 'node:test';
import { env } from '../lib/harness/env.js';
import { KVM_CAP_GUEST_MEMFD } from '../lib/uapi/index.js';

/** The project root. */
export const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** The compiled CLI entry point. */
export const CLI = resolve(fileURLToPath(new URL('../lib/cli/main.js', import.meta.url)));

/** Compiled misbehaving cases used to test the harness. */
export const HARNESS_CASES = resolve(fileURLToPath(new URL('./harness-cases', import.meta.url)));

/** Runs the CLI synchronously and returns status, stdout and stderr. */
export function cli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...(opts.env ?? {}) },
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** A maker of temporary directories that are all removed when the calling test file's tests are done. */
export function useScratchDirs(): (prefix: string) => string {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/** A results file's run line (JSON, no newline) with placeholder values, fields of `over` replacing them in place. */
export function minimalRunLine(over: Record<string, unknown> = {}): string {
  const base = {
    type: 'run',
    format: 1,
    suiteVersion: '0',
    started: '',
    kernel: 'k',
    arch: 'x86_64',
    host: 'h',
    platform: 'x86_64',
    kvm: {},
    options: {},
  };
  return JSON.stringify({ ...base, ...over });
}

/** A feature the live kernel has, with a case that decides it and one instance of that case to turn into a failure. */
export interface LiveFeature {
  /** Feature id in lib/features/catalog.ts. */ feature: string;
  /** -t selectors of the cases to run. */ selectors: string[];
  /** An instance id among them that passes where the feature is present. */ victim: string;
}

/** Whether the live kernel has guest_memfd (KVM_CAP_GUEST_MEMFD on /dev/kvm); machines of this kind differ. */
export function liveHasGuestMemfd(): boolean {
  return env().sysCap(KVM_CAP_GUEST_MEMFD) > 0;
}

/** guest_memfd's creation cases where the live kernel has guest_memfd, memfd_create's otherwise (always there). */
export function liveFeature(): LiveFeature {
  return liveHasGuestMemfd()
    ? {
        feature: 'guest_memfd',
        selectors: ['gmem.create.size_zero', 'gmem.create.one_page'],
        victim: 'gmem.create.one_page@noflags',
      }
    : { feature: 'memfd', selectors: ['memfd.create.flags'], victim: 'memfd.create.flags@cloexec' };
}
