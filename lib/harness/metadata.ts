/** Run metadata: kernel, machine, suite version and the KVM capabilities both fds report. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as U from '../uapi/index.js';
import type { Env } from './env.js';
import type { RunRecord } from './verdict.js';
import { Vm } from '../kvm/vm.js';

/** The suite's version from package.json. */
export function suiteVersion(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Every KVM_CAP_* name → number in the generated tables. */
export function capTable(): [string, number][] {
  return Object.entries(U as unknown as Record<string, unknown>)
    .filter((e): e is [string, number] => e[0].startsWith('KVM_CAP_') && typeof e[1] === 'number')
    .sort((a, b) => a[1] - b[1]);
}

/** KVM facts for the run record: non-zero caps on /dev/kvm and on a type-0 VM, VM types, API version. */
export function kvmFacts(env: Env): Record<string, unknown> {
  const kvm = env.kvm;
  if (!kvm) return { available: false, module: env.kvmModule, reason: env.kvmUnavailableReason };
  const sysCaps: Record<string, number> = {};
  const vmCaps: Record<string, number> = {};
  for (const [name, cap] of capTable()) {
    const v = env.sysCap(cap);
    if (v) sysCaps[name] = v;
  }
  const probe = kvm.__createVm(0);
  if (probe.ret >= 0) {
    const vm = new Vm(kvm, probe.ret, 0);
    for (const [name, cap] of capTable()) {
      const v = vm.checkExtension(cap);
      if (v) vmCaps[name] = v;
    }
    vm.close();
  }
  return {
    available: true,
    module: env.kvmModule,
    apiVersion: kvm.apiVersion(),
    vmTypes: env.vmTypes,
    sysCaps,
    vmCaps,
  };
}

/** The first line of a results file for this run. */
export function runRecord(env: Env, platform: string, options: Record<string, unknown>): RunRecord {
  return {
    type: 'run',
    format: 1,
    suiteVersion: suiteVersion(),
    node: process.versions.node,
    started: new Date().toISOString(),
    kernel: env.kernel.release,
    arch: env.arch,
    host: env.host,
    platform,
    kvm: kvmFacts(env),
    options,
  };
}
