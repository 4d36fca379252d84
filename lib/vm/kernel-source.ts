/** Kernel sources: Debian packages fetched into the cache (downloaded once, unpacked, depmod'ed) or a user's own image. */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  openSync,
  readSync,
  closeSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { cacheSubdir } from '../paths.js';
import { compareDebianVersions } from './debian-version.js';
import { ensureQemu } from './qemu.js';
import { packageRegex, type DebianSpec, type ImageSpec } from './candidates.js';

/** A kernel ready to boot: its image and the modules tree the initramfs takes modules from. */
export interface KernelTree {
  /** Label: the candidate's, or derived from the resolved kernel. */ label: string;
  /** Kernel release (uname -r inside the guest). */ release: string;
  /** Absolute path of the bzImage/vmlinuz. */ image: string;
  /** lib/modules/<release> holding modules.dep, or null when the kernel has no modules tree. */ modulesDir:
    | string
    | null;
  /** Where it came from, for reports: "debian sid linux-binary-7.2.13+deb14-amd64 7.2.13-1" or "image /path". */ origin: string;
  /** The kernel's .config on the host, when known (the guest reads it through the read-only host root). */ config?:
    | string
    | null;
}

/** A kernel that cannot be had: download or unpack failed, or the spec matches nothing. The message is the exact reason. */
export class KernelUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelUnavailable';
  }
}

const APT_DOWNLOAD = join(PROJECT_ROOT, 'lib', 'debian', 'apt-download.sh');
const SBIN_PATH = `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin`;

/** Progress messages go here (stderr by default). */
export type Log = (line: string) => void;

/** The kernel release stored in a bzImage's setup header (the first word of its version string), or null. */
export function imageRelease(image: string): string | null {
  const fd = openSync(image, 'r');
  try {
    const head = Buffer.alloc(0x10200 + 256);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n < 0x210 || head.toString('latin1', 0x202, 0x206) !== 'HdrS') return null;
    const at = head.readUInt16LE(0x20e) + 0x200;
    if (at + 64 > n) return null;
    const text = head.toString('latin1', at, at + 256).split('\0')[0] ?? '';
    return text.split(' ')[0] || null;
  } finally {
    closeSync(fd);
  }
}

/** Runs lib/debian/apt-download.sh with these arguments and returns what it printed (a .deb path or a listing); KernelUnavailable with its reason on failure. */
export function aptDownload(args: string[]): string {
  const r = spawnSync('bash', [APT_DOWNLOAD, ...args], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status !== 0) {
    const lines = (r.stderr ?? '').trim().split('\n');
    const own = lines
      .filter((l) => l.startsWith('apt-download: error: '))
      .map((l) => l.slice('apt-download: error: '.length));
    const why = (
      own.length ? own : lines.filter((l) => /^E:|error|Could not|Temporary failure|unable/i.test(l)).slice(-2)
    ).join('; ');
    throw new KernelUnavailable(
      `lib/debian/apt-download.sh ${args.join(' ')} failed: ${why || `exit ${r.status ?? r.signal}`}`,
    );
  }
  return r.stdout.trim();
}

/** Packages of a suite whose whole name matches a glob, with the versions the suite serves. */
export function listDebianPackages(suite: string, glob: string): { pkg: string; version: string }[] {
  const out = aptDownload(['--list', suite, packageRegex(glob)]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [pkg, version] = l.split(' ');
      return { pkg: pkg as string, version: version as string };
    });
}

interface TreeRecord {
  suite: string;
  packages: string[];
  version: string;
  release: string;
  image: string;
  modulesDir: string | null;
}

function treeDir(pkg: string, version: string): string {
  return join(cacheSubdir('kernels'), `${pkg}_${version.replace(/:/g, '%3a')}`);
}

function readTreeRecord(dir: string): TreeRecord | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8')) as TreeRecord;
  } catch {
    return null;
  }
}

/** The kernel config a package ships: boot/config-<release> (linux-image-*) or lib/modules/<release>/config (linux-binary-*). */
export function packagedConfig(dir: string, rec: { release: string; modulesDir: string | null }): string | null {
  const places = [
    join(dir, 'boot', `config-${rec.release}`),
    ...(rec.modulesDir ? [join(dir, rec.modulesDir, 'config')] : []),
  ];
  return places.find((p) => existsSync(p)) ?? null;
}

/**
 * linux-binary-* packages ship no config: their linux-headers-* twin has it as .config. It is fetched
 * once and only that file kept, as boot/config-<release> of the tree; null when it cannot be had.
 */
function fetchBinaryConfig(dir: string, rec: TreeRecord, log: Log): string | null {
  const main = rec.packages[0] ?? '';
  if (!main.startsWith('linux-binary-')) return null;
  const headers = `linux-headers-${main.slice('linux-binary-'.length)}`;
  const dest = join(dir, 'boot', `config-${rec.release}`);
  try {
    log(`fetching ${headers} ${rec.version} for the kernel config`);
    const deb = aptDownload([rec.suite, headers, rec.version]);
    mkdirSync(join(dir, 'boot'), { recursive: true });
    const r = spawnSync(
      'bash',
      [
        '-c',
        'set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -x -O --wildcards "./usr/src/linux-headers-*/.config" > "$2.tmp" && [ -s "$2.tmp" ] && mv "$2.tmp" "$2"',
        '_',
        deb,
        dest,
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error((r.stderr || 'no .config in the package').trim());
    return dest;
  } catch (e) {
    rmSync(`${dest}.tmp`, { force: true });
    log(`no kernel config for ${rec.release}: ${(e as Error).message}; the guest's config-dependent cases will skip`);
    return null;
  }
}

function treeFromRecord(
  dir: string,
  rec: TreeRecord,
  label: string | undefined,
  log: Log = () => undefined,
): KernelTree {
  return {
    label: label ?? rec.release,
    release: rec.release,
    image: join(dir, rec.image),
    modulesDir: rec.modulesDir ? join(dir, rec.modulesDir) : null,
    origin: `debian ${rec.suite} ${rec.packages[0]} ${rec.version}`,
    config: packagedConfig(dir, rec) ?? fetchBinaryConfig(dir, rec, log),
  };
}

/** Cached unpacked trees of a suite whose main package matches a glob (newest first). */
function cachedTrees(suite: string, glob: string, version?: string): { dir: string; rec: TreeRecord }[] {
  const re = new RegExp(`^${packageRegex(glob)}$`);
  const root = cacheSubdir('kernels');
  const found: { dir: string; rec: TreeRecord }[] = [];
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    const rec = readTreeRecord(dir);
    if (rec && rec.suite === suite && re.test(rec.packages[0] ?? '') && (!version || rec.version === version))
      found.push({ dir, rec });
  }
  return found.sort((a, b) => compareDebianVersions(b.rec.version, a.rec.version));
}

/** Finds the modules directory for a release under an unpacked tree (lib/modules or usr/lib/modules). */
function modulesDirIn(tree: string): { base: string; release: string } | null {
  for (const base of [tree, join(tree, 'usr')]) {
    const mods = join(base, 'lib', 'modules');
    if (!existsSync(mods)) continue;
    const releases = readdirSync(mods).filter((r) => existsSync(join(mods, r, 'kernel')));
    if (releases.length === 1) return { base, release: releases[0] as string };
  }
  return null;
}

/**
 * Runs depmod for a modules tree (base/lib/modules/<release>) unless modules.dep is already there; on a fresh
 * machine without kmod it first installs the guest tools (ci/kernels/install-qemu.sh, as booting needs them too).
 */
export function ensureDepmod(base: string, release: string): void {
  if (existsSync(join(base, 'lib', 'modules', release, 'modules.dep'))) return;
  const depmod = () =>
    spawnSync('depmod', ['-b', base, release], { encoding: 'utf8', env: { ...process.env, PATH: SBIN_PATH } });
  let r = depmod();
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    try {
      ensureQemu();
    } catch (e) {
      throw new KernelUnavailable(`depmod is missing and kmod could not be installed: ${(e as Error).message}`);
    }
    r = depmod();
  }
  if (r.error || r.status !== 0)
    throw new KernelUnavailable(
      `depmod -b ${base} ${release} failed: ${r.error?.message ?? r.stderr.trim().split('\n').pop()} (is kmod installed? ci/kernels/install-qemu.sh installs it)`,
    );
}

function unpack(suite: string, packages: { pkg: string; deb: string }[], version: string, log: Log): string {
  const final = treeDir(packages[0]?.pkg as string, version);
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    for (const p of packages) {
      log(`unpacking ${basename(p.deb)}`);
      const r = spawnSync('dpkg-deb', ['-x', p.deb, tmp], { encoding: 'utf8' });
      if (r.status !== 0)
        throw new KernelUnavailable(`dpkg-deb -x ${p.deb} failed: ${(r.stderr ?? r.error?.message ?? '').trim()}`);
    }
    const mods = modulesDirIn(tmp);
    if (!mods)
      throw new KernelUnavailable(`${packages.map((p) => p.pkg).join(' + ')} holds no lib/modules/<release>/kernel`);
    const candidates = [
      join(tmp, 'boot', `vmlinuz-${mods.release}`),
      join(mods.base, 'lib', 'modules', mods.release, 'vmlinuz'),
    ];
    const image = candidates.find((c) => existsSync(c));
    if (!image)
      throw new KernelUnavailable(`${packages.map((p) => p.pkg).join(' + ')} holds no vmlinuz for ${mods.release}`);
    log(`depmod ${mods.release}`);
    ensureDepmod(mods.base, mods.release);
    const rec: TreeRecord = {
      suite,
      packages: packages.map((p) => p.pkg),
      version,
      release: mods.release,
      image: relative(tmp, image),
      modulesDir: relative(tmp, join(mods.base, 'lib', 'modules', mods.release)),
    };
    writeFileSync(join(tmp, 'kernel.json'), `${JSON.stringify(rec, null, 2)}\n`);
    if (existsSync(final)) rmSync(tmp, { recursive: true, force: true });
    else renameSync(tmp, final);
    return final;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Fetches (once) and unpacks a Debian kernel; offline, falls back to the newest cached tree matching the spec. */
export function prepareDebianKernel(
  spec: DebianSpec,
  log: Log = (l) => process.stderr.write(`# kernels: ${l}\n`),
): KernelTree {
  if (spec.version) {
    const hit = cachedTrees(spec.suite, spec.package, spec.version)[0];
    if (hit) return treeFromRecord(hit.dir, hit.rec, spec.label, log);
  }
  let listed: { pkg: string; version: string }[];
  try {
    listed = listDebianPackages(spec.suite, spec.package);
  } catch (e) {
    const hit = cachedTrees(spec.suite, spec.package, spec.version)[0];
    if (hit) {
      log(
        `cannot list ${spec.suite} (${(e as Error).message}); using the cached ${hit.rec.packages[0]} ${hit.rec.version}`,
      );
      return treeFromRecord(hit.dir, hit.rec, spec.label, log);
    }
    throw e;
  }
  const matching = listed.filter((p) => !spec.version || p.version === spec.version);
  if (matching.length === 0) {
    const versions = listed.map((p) => `${p.pkg} ${p.version}`).join(', ');
    throw new KernelUnavailable(
      `${spec.suite} serves no package matching ${spec.package}${spec.version ? ` at version ${spec.version}` : ''}${versions ? ` (it has: ${versions})` : ''}`,
    );
  }
  const chosen = matching.sort(
    (a, b) => compareDebianVersions(b.version, a.version) || a.pkg.localeCompare(b.pkg),
  )[0] as { pkg: string; version: string };
  const dir = treeDir(chosen.pkg, chosen.version);
  const rec = readTreeRecord(dir);
  if (rec) return treeFromRecord(dir, rec, spec.label, log);
  const pkgs = [chosen.pkg];
  if (chosen.pkg.startsWith('linux-binary-')) pkgs.push(`linux-modules-${chosen.pkg.slice('linux-binary-'.length)}`);
  const debs = pkgs.map((pkg) => {
    log(`fetching ${pkg} ${chosen.version} from ${spec.suite}`);
    return { pkg, deb: aptDownload([spec.suite, pkg, chosen.version]) };
  });
  const unpacked = unpack(spec.suite, debs, chosen.version, log);
  return treeFromRecord(unpacked, readTreeRecord(unpacked) as TreeRecord, spec.label, log);
}

/** A user's kernel image with its optional modules (a modules_install root or lib/modules/<release> itself). */
export function prepareImageKernel(spec: ImageSpec): KernelTree {
  if (!existsSync(spec.image) || !statSync(spec.image).isFile())
    throw new KernelUnavailable(`no kernel image at ${spec.image}`);
  const fromImage = imageRelease(spec.image);
  let modulesDir: string | null = null;
  let release = fromImage;
  if (spec.modules) {
    const m = resolve(spec.modules);
    if (existsSync(join(m, 'modules.dep')) || existsSync(join(m, 'kernel'))) {
      modulesDir = m;
      release ??= basename(m);
      const base = resolve(m, '..', '..', '..');
      if (!existsSync(join(m, 'modules.dep'))) ensureDepmod(base, basename(m));
    } else {
      const base = [m, join(m, 'usr')].find((b) => existsSync(join(b, 'lib', 'modules')));
      if (!base)
        throw new KernelUnavailable(
          `${m} is neither a modules_install root (lib/modules/<release>) nor a lib/modules/<release> directory`,
        );
      const rels = readdirSync(join(base, 'lib', 'modules'));
      const rel = rels.find((r) => r === fromImage) ?? (rels.length === 1 ? rels[0] : undefined);
      if (!rel)
        throw new KernelUnavailable(
          `${base}/lib/modules holds ${rels.join(', ') || 'nothing'}; none is the image's release ${fromImage ?? '(unknown)'}`,
        );
      ensureDepmod(base, rel);
      modulesDir = join(base, 'lib', 'modules', rel);
      release ??= rel;
    }
  }
  return {
    label: spec.label ?? release ?? basename(spec.image),
    release: release ?? 'unknown',
    image: spec.image,
    modulesDir,
    origin: `image ${spec.image}`,
    config: imageConfig(spec.image),
  };
}

/** The .config of a kernel image built here: `config` beside it (a kernels build directory) or the tree's .config for arch/<arch>/boot/bzImage. */
export function imageConfig(image: string): string | null {
  const places = [join(dirname(image), 'config'), resolve(dirname(image), '..', '..', '..', '.config')];
  return places.find((p) => existsSync(p) && statSync(p).isFile()) ?? null;
}
