/** Builds the guest's initramfs: static busybox, the /init script and the modules KVM and 9p need, decompressed. */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { cpioArchive, type CpioEntry } from './cpio.js';
import { GUEST_INIT } from './guest-init.js';
import type { KernelTree } from './kernel-source.js';

/** Modules the guest loads (with their dependencies) when they are modules; absent ones are built in or missing. */
export const GUEST_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'kvm_amd', 'kvm_intel'];

/** Busybox applets the init script uses. */
const APPLETS = [
  'sh',
  'mount',
  'umount',
  'insmod',
  'mkdir',
  'chroot',
  'reboot',
  'poweroff',
  'sync',
  'cat',
  'cut',
  'echo',
  'sleep',
  'mv',
  'ls',
  'tail',
  'tr',
  'dmesg',
  'grep',
  'hostname',
  'ln',
];

/** The busybox the initramfs is built with (Debian's busybox-static installs /bin/busybox). */
export const BUSYBOX = process.env.GMEM_BUSYBOX ?? '/bin/busybox';

/** True when an ELF file has no program interpreter (statically linked). */
export function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    if (h.toString('latin1', 0, 4) !== '\x7fELF' || h[4] !== 2) return false;
    const phoff = Number(h.readBigUInt64LE(0x20));
    const phentsize = h.readUInt16LE(0x36);
    const phnum = h.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Module name as the kernel spells it (dashes become underscores, no .ko suffix). */
export function moduleName(path: string): string {
  return basename(path)
    .replace(/\.ko(\.(xz|zst|gz))?$/, '')
    .replace(/-/g, '_');
}

/** modules.dep as a map: module name → { path relative to the modules dir, names of its dependencies }. */
export function readModulesDep(modulesDir: string): Map<string, { path: string; deps: string[] }> {
  const map = new Map<string, { path: string; deps: string[] }>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(moduleName);
    map.set(moduleName(path), { path, deps });
  }
  return map;
}

/** The wanted modules that exist as modules, with their dependencies, in an order insmod can load them. */
export function loadOrder(dep: Map<string, { path: string; deps: string[] }>, wanted: string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, depth: number) => {
    if (seen.has(name) || depth > 64) return;
    const entry = dep.get(name);
    if (!entry) return;
    seen.add(name);
    for (const d of entry.deps) visit(d, depth + 1);
    order.push(name);
  };
  for (const w of wanted) visit(w, 0);
  return order;
}

function decompress(path: string): Buffer {
  if (path.endsWith('.gz')) return gunzipSync(readFileSync(path));
  const tool = path.endsWith('.xz') ? 'xz' : path.endsWith('.zst') ? 'zstd' : null;
  if (!tool) return readFileSync(path);
  const r = spawnSync(tool, ['-dc', path], { maxBuffer: 512 << 20 });
  if (r.status !== 0) throw new Error(`${tool} -dc ${path} failed: ${r.error?.message ?? r.stderr.toString().trim()}`);
  return r.stdout;
}

/** What went into an initramfs. */
export interface InitramfsInfo {
  /** Modules packed, in load order. */ modules: string[];
  /** Wanted modules that are not modules of this kernel (built in, or not configured). */ notModules: string[];
  /** Size in bytes. */ bytes: number;
}

/** Writes the initramfs (uncompressed newc cpio, which every kernel accepts) for a kernel to outPath. */
export function buildInitramfs(tree: KernelTree, outPath: string): InitramfsInfo {
  if (!existsSync(BUSYBOX))
    throw new Error(`${BUSYBOX} is missing: install busybox-static (ci/kernels/install-qemu.sh does)`);
  if (!isStaticElf(BUSYBOX))
    throw new Error(`${BUSYBOX} is dynamically linked: install busybox-static (ci/kernels/install-qemu.sh does)`);
  const entries: CpioEntry[] = ['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', 'out', 'newroot'].map((path) => ({
    type: 'dir',
    path,
  }));
  entries.push({ type: 'file', path: 'bin/busybox', data: readFileSync(BUSYBOX), mode: 0o755 });
  for (const a of APPLETS) entries.push({ type: 'symlink', path: `bin/${a}`, target: 'busybox' });
  entries.push({ type: 'file', path: 'init', data: Buffer.from(GUEST_INIT), mode: 0o755 });
  let modules: string[] = [];
  let notModules = [...GUEST_MODULES];
  if (tree.modulesDir && existsSync(join(tree.modulesDir, 'modules.dep'))) {
    const dep = readModulesDep(tree.modulesDir);
    modules = loadOrder(dep, GUEST_MODULES);
    notModules = GUEST_MODULES.filter((m) => !dep.has(m));
    for (const m of modules) {
      const entry = dep.get(m) as { path: string };
      const src = entry.path.startsWith('/') ? entry.path : join(tree.modulesDir, entry.path);
      entries.push({ type: 'file', path: `lib/modules/${m}.ko`, data: decompress(src) });
    }
  }
  entries.push({ type: 'file', path: 'modules.order', data: Buffer.from(modules.map((m) => `${m}\n`).join('')) });
  const archive = cpioArchive(entries);
  writeFileSync(outPath, archive);
  return { modules, notModules, bytes: archive.length };
}
