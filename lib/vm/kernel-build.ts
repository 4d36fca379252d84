/**
 * Kernels built from source: Debian's linux-source-<version> (fetched through lib/debian/apt-download.sh)
 * or a user's tree, configured as defconfig + kvm_guest.config + the project's fragments, built out of
 * tree into the cache and kept there under a key of source version + fragment contents + recipe.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { cacheSubdir } from '../paths.js';
import { shQuote } from './guest-init.js';
import { compareDebianVersions } from './debian-version.js';
import { conflictingOptions, fragmentHash, loadFragment, unmetOptions, type Fragment } from './kconfig-fragment.js';
import type { BuildSpecOf } from './candidates.js';
import {
  KernelUnavailable,
  aptDownload,
  imageRelease,
  listDebianPackages,
  type KernelTree,
  type Log,
} from './kernel-source.js';

/**
 * The recipe's version: part of every cache key, so a change to how kernels are configured or built
 * (the steps below) never reuses an image built the old way. Bump it with such a change.
 */
export const BUILD_RECIPE = 1;

/** The configuration targets applied before the fragments, in order. */
export const BASE_CONFIG_TARGETS = ['defconfig', 'kvm_guest.config'];

/** Where the source comes from: a Debian linux-source package, or a kernel tree on disk. */
export type BuildSource =
  | { kind: 'debian'; suite: string; package: string; version?: string }
  | { kind: 'tree'; path: string };

/** A kernel to build: its source, the fragments (names of fixtures/kconfig/<name>.config or paths, applied in order), and a label. */
export type BuildSpec = BuildSpecOf;

/** What identifies one build: the cache key is a hash of exactly this. */
export interface BuildIdentity {
  /** "debian sid linux-source-7.2=7.2.13-1", or "tree /path@<git commit>". */ source: string;
  /** Target architecture. */ arch: string;
  /** Configuration targets before the fragments. */ baseTargets: string[];
  /** Fragments in order: name and sha256 of the text. */ fragments: { name: string; sha256: string }[];
  /** BUILD_RECIPE. */ recipe: number;
}

/** The cache key of a build: sha256 over its identity (order of fragments matters, as merge order does). */
export function buildKey(id: BuildIdentity): string {
  return createHash('sha256')
    .update(
      JSON.stringify([id.source, id.arch, id.baseTargets, id.fragments.map((f) => [f.name, f.sha256]), id.recipe]),
    )
    .digest('hex');
}

/** The identity of a build of a resolved source with loaded fragments. */
export function buildIdentity(source: string, fragments: Fragment[]): BuildIdentity {
  return {
    source,
    arch: 'x86_64',
    baseTargets: BASE_CONFIG_TARGETS,
    fragments: fragments.map((f) => ({ name: f.name, sha256: fragmentHash(f) })),
    recipe: BUILD_RECIPE,
  };
}

/** The record a finished build leaves in its cache directory (kernel.json); its presence marks the build complete. */
export interface BuildRecord {
  /** The identity it was built from. */ identity: BuildIdentity;
  /** Its key. */ key: string;
  /** uname -r of the image. */ release: string;
  /** bzImage, relative to the build directory. */ image: string;
  /** The final .config, relative to the build directory. */ config: string;
  /** lib/modules/<release>, relative, or null when everything is built in. */ modulesDir: string | null;
  /** Seconds the build took. */ buildSeconds: number;
  /** When it finished (ISO). */ finished: string;
}

/** Options of a build. */
export interface BuildOptions {
  /** Limit for all steps together (default 150 min). */ timeoutMs?: number;
  /** make -j (default: the CPU count). */ jobs?: number;
  /** Build even when the cache has the result. */ force?: boolean;
  /** Echo the build's output to stderr (default true); it always goes to build.log. */ echo?: boolean;
  /** Keep the object tree (obj/, ~3 GB) after a successful build; by default only what a boot needs stays. */ keepObjects?: boolean;
}

/** A build step failed or ran out of time; the message names the step and the log. */
export class KernelBuildFailed extends KernelUnavailable {
  constructor(message: string) {
    super(message);
    this.name = 'KernelBuildFailed';
  }
}

/** The directory of a build in the cache: a readable prefix and the first 16 hex digits of the key. */
export function buildDir(prefix: string, key: string): string {
  return join(cacheSubdir('kernel-builds'), `${prefix.replace(/[^A-Za-z0-9._+~-]/g, '_')}-${key.slice(0, 16)}`);
}

function readRecord(dir: string): BuildRecord | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8')) as BuildRecord;
  } catch {
    return null;
  }
}

function treeOf(dir: string, rec: BuildRecord, label: string | undefined): KernelTree {
  return {
    label: label ?? rec.release,
    release: rec.release,
    image: join(dir, rec.image),
    modulesDir: rec.modulesDir ? join(dir, rec.modulesDir) : null,
    config: join(dir, rec.config),
    origin: `build ${rec.identity.source} + ${rec.identity.fragments.map((f) => f.name).join(', ')} (key ${rec.key.slice(0, 16)})`,
  };
}

/** The source resolved to something that can be keyed: a Debian version, or a tree at a git commit. */
interface ResolvedSource {
  /** BuildIdentity.source. */ id: string;
  /** Directory prefix in the cache. */ prefix: string;
  /** Whether a finished build may be reused (false for a tree with uncommitted changes or without git). */ cacheable: boolean;
  /** Produces the source tree on disk (fetching and unpacking when needed) and returns its path. */ tree: (
    log: Log,
  ) => string;
}

function git(path: string, args: string[]): string | null {
  const r = spawnSync('git', ['-C', path, ...args], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Unpacks /usr/src/linux-source-*.tar.* of a linux-source .deb into the cache (once) and returns the tree. */
function unpackDebianSource(deb: string, pkg: string, version: string, log: Log): string {
  const dest = join(cacheSubdir('kernel-src'), `${pkg}_${version.replace(/:/g, '%3a')}`);
  if (existsSync(join(dest, '.unpacked'))) return dest;
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  log(`unpacking ${pkg} ${version} (about a minute)`);
  // the package's tarball is unpacked beside the tree, not in it: the kernel tree has a usr/ of its own
  const r = spawnSync(
    'bash',
    [
      '-c',
      'set -o pipefail; mkdir -p "$2.deb" "$2/tree" && dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2.deb" --wildcards "./usr/src/linux-source-*.tar.*" && t=$(ls "$2.deb"/usr/src/linux-source-*.tar.* | head -n1) && tar -x -f "$t" -C "$2/tree" --strip-components=1; s=$?; rm -rf "$2.deb"; exit $s',
      '_',
      deb,
      tmp,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new KernelBuildFailed(
      `step unpack: ${deb} could not be unpacked: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`,
    );
  }
  writeFileSync(join(tmp, 'tree', '.unpacked'), `${pkg} ${version}\n`);
  rmSync(dest, { recursive: true, force: true });
  renameSync(join(tmp, 'tree'), dest);
  rmSync(tmp, { recursive: true, force: true });
  return dest;
}

function cachedDebianBuilds(
  src: { suite: string; package: string; version?: string },
  fragments: Fragment[],
): { dir: string; rec: BuildRecord }[] {
  const root = cacheSubdir('kernel-builds');
  const out: { dir: string; rec: BuildRecord; version: string }[] = [];
  const prefix = `debian ${src.suite} ${src.package}=`;
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    const rec = readRecord(dir);
    if (!rec || !rec.identity.source.startsWith(prefix)) continue;
    const version = rec.identity.source.slice(prefix.length);
    if (src.version && version !== src.version) continue;
    if (rec.key !== buildKey(buildIdentity(rec.identity.source, fragments))) continue;
    out.push({ dir, rec, version });
  }
  return out.sort((a, b) => compareDebianVersions(b.version, a.version));
}

/** Resolves the source of a spec: the newest (or pinned) Debian version, or the tree's commit. */
function resolveSource(
  spec: BuildSpec,
  fragments: Fragment[],
  log: Log,
): ResolvedSource | { cached: { dir: string; rec: BuildRecord } } {
  const s = spec.source;
  if (s.kind === 'tree') {
    const path = realpathSync(s.path);
    if (!existsSync(join(path, 'Makefile')) || !existsSync(join(path, 'Kconfig')))
      throw new KernelUnavailable(`${path} is not a kernel tree (no Makefile and Kconfig at its top)`);
    const head = git(path, ['rev-parse', 'HEAD']);
    const dirty = head ? (git(path, ['status', '--porcelain', '--untracked-files=no']) ?? 'x') !== '' : true;
    return {
      id: `tree ${path}@${head ?? 'no-git'}${dirty ? '+changes' : ''}`,
      prefix: `tree-${head ? head.slice(0, 12) : 'nogit'}`,
      cacheable: !!head && !dirty,
      tree: () => path,
    };
  }
  let version = s.version;
  if (!version) {
    try {
      const listed = listDebianPackages(s.suite, s.package).filter((p) => p.pkg === s.package);
      if (listed.length === 0) throw new KernelUnavailable(`${s.suite} serves no package ${s.package}`);
      version = listed.map((p) => p.version).sort((a, b) => compareDebianVersions(b, a))[0] as string;
    } catch (e) {
      const hit = cachedDebianBuilds(s, fragments)[0];
      if (hit) {
        log(`cannot list ${s.suite} (${(e as Error).message}); using the cached build ${hit.dir}`);
        return { cached: hit };
      }
      throw e;
    }
  }
  const v = version;
  return {
    id: `debian ${s.suite} ${s.package}=${v}`,
    prefix: `${s.package}_${v}`,
    cacheable: true,
    tree: (l) => {
      l(`fetching ${s.package} ${v} from ${s.suite}`);
      return unpackDebianSource(aptDownload([s.suite, s.package, v]), s.package, v, l);
    },
  };
}

/** Loads a spec's fragments; two fragments setting one option differently is an error, not a silent override. */
export function loadFragments(names: string[]): Fragment[] {
  const fragments = names.map((n) => loadFragment(n));
  const conflicts = conflictingOptions(fragments);
  if (conflicts.length) throw new KernelUnavailable(`the fragments disagree: ${conflicts.join('; ')}`);
  return fragments;
}

/** Where a spec's build lives in the cache and whether it is finished there (no fetching, no building). */
export function cachedBuild(spec: BuildSpec): { dir: string; record: BuildRecord | null } | null {
  const fragments = loadFragments(spec.fragments);
  if (spec.source.kind === 'debian') {
    const hit = cachedDebianBuilds(spec.source, fragments)[0];
    return hit ? { dir: hit.dir, record: hit.rec } : null;
  }
  return null;
}

/** Builds (or takes from the cache) a kernel; every step's output goes to build.log in the build directory and, unless echo is false, to stderr. */
export function buildKernel(spec: BuildSpec, log: Log, o: BuildOptions = {}): KernelTree {
  const fragments = loadFragments(spec.fragments);
  const resolved = resolveSource(spec, fragments, log);
  if ('cached' in resolved) return treeOf(resolved.cached.dir, resolved.cached.rec, spec.label);
  const identity = buildIdentity(resolved.id, fragments);
  const key = buildKey(identity);
  const dir = buildDir(resolved.prefix, key);
  const done = readRecord(dir);
  if (done && done.key === key && resolved.cacheable && !o.force) {
    log(`cached build ${dir}`);
    return treeOf(dir, done, spec.label);
  }
  const started = Date.now();
  const deadline = started + (o.timeoutMs ?? 150 * 60_000);
  ensureBuildDeps();
  const src = resolved.tree(log);
  mkdirSync(dir, { recursive: true });
  rmSync(join(dir, 'kernel.json'), { force: true });
  const obj = join(dir, 'obj');
  mkdirSync(obj, { recursive: true });
  const logFile = join(dir, 'build.log');
  writeFileSync(logFile, `# ${identity.source} + ${fragments.map((f) => f.name).join(', ')}; key ${key}\n`);
  const jobs = o.jobs ?? availableParallelism();
  const make = ['make', '-C', src, `O=${obj}`];
  const modroot = join(dir, 'modroot');
  const step = (name: string, argv: string[]) => {
    const left = Math.floor((deadline - Date.now()) / 1000);
    if (left <= 0)
      throw new KernelBuildFailed(`step ${name}: the build's time limit was reached before it (see ${logFile})`);
    log(`step ${name}: ${argv.join(' ')}`);
    appendFileSync(logFile, `\n# step ${name}: ${argv.join(' ')}\n`);
    const t0 = Date.now();
    // timeout(1) signals the whole process group (make and its children), and tee keeps the log
    const r = spawnSync(
      'timeout',
      [
        '--kill-after=30',
        String(left),
        'bash',
        '-c',
        `set -o pipefail; "$@" 2>&1 | tee -a ${shQuote(logFile)}${o.echo === false ? ' >/dev/null' : ' >&2'}`,
        '_',
        ...argv,
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, LC_ALL: 'C' },
      },
    );
    if (r.status === 124 || r.status === 137)
      throw new KernelBuildFailed(
        `step ${name}: killed at the build's time limit of ${Math.round((o.timeoutMs ?? 150 * 60_000) / 60_000)} min (see ${logFile})`,
      );
    if (r.status !== 0) {
      const tail = failureLines(readFileSync(logFile, 'utf8')).join(' | ');
      throw new KernelBuildFailed(
        `step ${name} failed (exit ${r.status ?? r.signal})${tail ? `: ${tail}` : ''} (log: ${logFile})`,
      );
    }
    log(`step ${name}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  };
  for (const t of BASE_CONFIG_TARGETS) step(t, [...make, t]);
  step('merge fragments', [
    join(src, 'scripts', 'kconfig', 'merge_config.sh'),
    '-m',
    '-O',
    obj,
    join(obj, '.config'),
    ...fragments.map((f) => f.path),
  ]);
  step('olddefconfig', [...make, 'olddefconfig']);
  const dotConfig = readFileSync(join(obj, '.config'), 'utf8');
  const unmet = unmetOptions(fragments, dotConfig);
  if (unmet.length)
    throw new KernelBuildFailed(
      `step check config: ${unmet.map((u) => `${u.option}=${u.wanted} (${u.fragment}) ended as ${u.got}`).join('; ')}: a dependency is missing or the option does not exist in this tree`,
    );
  const hasModules = /^CONFIG_[A-Za-z0-9_]+=m$/m.test(dotConfig);
  step(hasModules ? 'bzImage and modules' : 'bzImage', [
    ...make,
    `-j${jobs}`,
    'bzImage',
    ...(hasModules ? ['modules'] : []),
  ]);
  let modulesDir: string | null = null;
  const image = join(obj, 'arch', 'x86', 'boot', 'bzImage');
  const release = imageRelease(image);
  if (!release) throw new KernelBuildFailed(`step bzImage: ${image} is not a bzImage with a version string`);
  if (hasModules) {
    rmSync(modroot, { recursive: true, force: true });
    step('modules_install', [...make, `INSTALL_MOD_PATH=${modroot}`, 'INSTALL_MOD_STRIP=1', 'modules_install']);
    modulesDir = join('modroot', 'lib', 'modules', release);
  }
  copyFileSync(image, join(dir, 'bzImage'));
  copyFileSync(join(obj, '.config'), join(dir, 'config'));
  const rec: BuildRecord = {
    identity,
    key,
    release,
    image: 'bzImage',
    config: 'config',
    modulesDir,
    buildSeconds: Math.round((Date.now() - started) / 1000),
    finished: new Date().toISOString(),
  };
  writeFileSync(join(dir, 'kernel.json'), `${JSON.stringify(rec, null, 2)}\n`);
  log(`built ${release} in ${rec.buildSeconds} s → ${dir}`);
  if (!o.keepObjects && resolved.cacheable) {
    // a boot needs bzImage, config and modroot only; the objects are ~3 GB per build and no later step reads
    // them. A tree with uncommitted changes keeps them: its next build is incremental in the same directory.
    rmSync(obj, { recursive: true, force: true });
    log(`removed the object tree ${obj} (--keep-objects keeps it)`);
  }
  return treeOf(dir, rec, spec.label);
}

/** Installs the build dependencies when missing (ci/kernels/install-build-deps.sh); KernelBuildFailed with its reason otherwise. */
export function ensureBuildDeps(): void {
  const r = spawnSync('bash', [join(PROJECT_ROOT, 'ci', 'kernels', 'install-build-deps.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 20 * 60_000,
  });
  if (r.status !== 0) {
    const last = (r.stderr ?? '').trim().split('\n').filter(Boolean).pop() ?? `exit ${r.status ?? r.signal}`;
    throw new KernelBuildFailed(`step build dependencies: ${last.replace(/^install-build-deps: (error: )?/, '')}`);
  }
}

/** The lines of a build log that say why it failed: compiler/kconfig errors, not make's own "*** Error" echoes. */
export function failureLines(log: string): string[] {
  const lines = log.split('\n').filter((l) => !/^make(\[\d+\])?: /.test(l));
  return lines
    .filter((l) => /error|can't|cannot|No such file|not found|\*\*\*/i.test(l))
    .slice(-3)
    .map((l) => l.trim());
}
