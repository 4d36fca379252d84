/** What a case or a run could leave behind: fds and mappings of this process, VMs and pinned memory of the machine. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { openFds } from '../sys/fd.js';
import { addressSpaceGeneration, munmap } from '../ffi/libc.js';

/** The resources of this process a case must release. */
export interface ProcessResources {
  /** Open fds. */ fds: Set<number>;
  /** Mappings of KVM/guest_memfd/memfd/anonymous-inode files, as "start-end path" keys. */ mappings: Set<string>;
}

const TRACKED_MAPPING = /(anon_inode:|\[kvm-gmem\]|kvm-vcpu|\/memfd:|guest_memfd)/;

/** The tracked mappings last read from /proc/self/maps, and the address-space generation they were read at. */
let lastMaps: { generation: number; mappings: Set<string> } | null = null;

/** Tracked mappings of this process: /proc/self/maps is read again only after a mapping call. */
function trackedMappings(): Set<string> {
  const generation = addressSpaceGeneration();
  if (lastMaps?.generation === generation) return lastMaps.mappings;
  const mappings = new Set<string>();
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+-[0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+\d+\s+(.*)$/.exec(line);
    if (m && TRACKED_MAPPING.test(m[2] as string)) mappings.add(`${m[1]} ${(m[2] as string).trim()}`);
  }
  lastMaps = { generation, mappings };
  return mappings;
}

/**
 * Snapshot of this process's fds (read every time: anything may open one) and tracked mappings (KVM, guest_memfd
 * and memfd mappings come only from calls through lib/ffi/libc.ts, so an unchanged generation means unchanged maps).
 */
export function processResources(): ProcessResources {
  return { fds: new Set(openFds()), mappings: trackedMappings() };
}

/** What appeared between two snapshots. */
export function leaked(before: ProcessResources, after: ProcessResources): { fds: number[]; mappings: string[] } {
  return {
    fds: [...after.fds].filter((f) => !before.fds.has(f)),
    mappings: [...after.mappings].filter((m) => !before.mappings.has(m)),
  };
}

/** Unmaps leaked mappings (keys from processResources) so the worker does not carry them into the next case. */
export function unmapLeaked(keys: string[]): void {
  for (const k of keys) {
    const [range] = k.split(' ');
    const [start, end] = (range as string).split('-').map((h) => BigInt(`0x${h}`));
    munmap(start as bigint, (end as bigint) - (start as bigint));
  }
}

/** Machine-wide state a whole run must leave as it found it. */
export interface MachineState {
  /** VMs listed in /sys/kernel/debug/kvm (null when debugfs is not mounted). */ vms: number | null;
  /** Of those, VMs created by the given processes (the runner and its workers). */ ownVms: number | null;
  /** Unevictable memory in kB (guest_memfd pages are unevictable). */ unevictableKb: number;
  /** Mlocked memory in kB. */ mlockedKb: number;
}

/** Reads the machine state; VMs of `pids` are counted apart (debugfs names VMs "<pid>-<fd>"). */
export function machineState(pids: ReadonlySet<number> = new Set()): MachineState {
  const dir = '/sys/kernel/debug/kvm';
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => /^\d+-\d+$/.test(n)) : null;
  const vms = names ? names.length : null;
  const ownVms = names ? names.filter((n) => pids.has(Number(n.split('-')[0]))).length : null;
  const mem = readFileSync('/proc/meminfo', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(mem)?.[1] ?? 0);
  return { vms, ownVms, unevictableKb: kb('Unevictable'), mlockedKb: kb('Mlocked') };
}

/** Unevictable memory of the machine in kB: guest_memfd pages and mlocked pages both count there. */
export function pinnedKb(): number {
  return machineState().unevictableKb;
}

/** Growth of pinned memory across a case above which the case is reported as having left memory behind. */
export const PINNED_LEAK_KB = 64 * 1024;
