/** Candidate kernels: fixtures/kernels.yaml (validated, positioned errors) and the kernel specs the CLI accepts. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as v from 'valibot';
import { readYaml, validate } from '../fixtures/source.js';
import { DEFAULT_FIXTURES_DIR } from '../paths.js';
import { UsageError, InputError } from '../errors.js';
import type { BuildSource } from './kernel-build.js';

/** The default candidates file. */
export const DEFAULT_KERNELS_FILE = resolve(DEFAULT_FIXTURES_DIR, 'kernels.yaml');

const Label = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'a label is letters, digits and . _ + - (it names a results file)'),
);
const DebianVersion = v.pipe(v.string(), v.regex(/^[0-9][A-Za-z0-9.+~:-]*$/, 'not a Debian version'));
const PackageGlob = v.pipe(
  v.string(),
  v.regex(/^[a-z0-9][a-z0-9.+*?-]*$/, 'a package name, where * and ? are wildcards'),
);

const Suite = v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]*$/, 'a Debian suite name'));
const Words = v.pipe(v.string(), v.regex(/^[^\n\r\0]*$/, 'kernel command-line words on one line'));
const Fragment = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_./+-]+$/, 'a fragment name (fixtures/kconfig/<name>.config) or a path'),
);
/** QEMU and kernel command-line settings of one candidate (the command line's --memory/--append still win/add). */
const GuestSettings = v.strictObject({
  memory: v.optional(v.pipe(v.number(), v.integer(), v.minValue(256), v.maxValue(65536))),
  cpus: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(8))),
  numa_nodes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(8))),
  append: v.optional(Words),
});
const HostCandidate = v.strictObject({ label: Label, source: v.literal('host'), note: v.optional(v.string()) });
const DebianCandidate = v.strictObject({
  label: Label,
  source: v.literal('debian'),
  suite: Suite,
  package: PackageGlob,
  version: v.optional(DebianVersion),
  note: v.optional(v.string()),
  guest: v.optional(GuestSettings),
});
const ImageCandidate = v.strictObject({
  label: Label,
  source: v.literal('image'),
  image: v.string(),
  modules: v.optional(v.string()),
  note: v.optional(v.string()),
  guest: v.optional(GuestSettings),
});
const BuildCandidate = v.pipe(
  v.strictObject({
    label: Label,
    source: v.literal('build'),
    suite: v.optional(Suite),
    package: v.optional(
      v.pipe(v.string(), v.regex(/^linux-source-[0-9][a-z0-9.+-]*$/, 'a linux-source-<version> package')),
    ),
    version: v.optional(DebianVersion),
    tree: v.optional(v.string()),
    fragments: v.pipe(v.array(Fragment), v.minLength(1)),
    note: v.optional(v.string()),
    guest: v.optional(GuestSettings),
  }),
  v.check(
    (c) =>
      (c.tree === undefined) !== (c.package === undefined && c.suite === undefined) &&
      (c.tree !== undefined || (c.package !== undefined && c.suite !== undefined)),
    "a build candidate has either suite + package (Debian's linux-source-<version>) or tree (a kernel tree on disk)",
  ),
);

/** Schema of fixtures/kernels.yaml. */
export const KernelsFileSchema = v.strictObject({
  candidates: v.pipe(
    v.array(v.variant('source', [HostCandidate, DebianCandidate, ImageCandidate, BuildCandidate])),
    v.minLength(1),
  ),
  sets: v.optional(
    v.record(
      Label,
      v.strictObject({
        kernels: v.pipe(v.array(Label), v.minLength(1)),
        tests: v.optional(v.array(v.string())),
        exclude: v.optional(v.array(v.string())),
      }),
    ),
  ),
});

/** A named, ordered list of candidates with the cases it runs by default. */
export interface KernelSet {
  /** Candidate labels, oldest first. */ kernels: string[];
  /** -t selectors used when the command line has none (empty: every case). */ tests: string[];
  /** -x selectors used when the command line has none. */ exclude: string[];
}

/** The live kernel (no VM). */
export interface HostSpec {
  kind: 'host';
  label: string;
  note?: string;
}
/** How a candidate's guest is booted: QEMU memory, CPUs and NUMA nodes, extra kernel command-line words. */
export interface GuestSettings {
  /** Guest memory in MiB. */ memoryMiB?: number;
  /** Guest CPUs. */ cpus?: number;
  /** NUMA nodes the guest memory is split into (QEMU -numa). */ numaNodes?: number;
  /** Kernel command-line words (hugepages=…). */ append?: string[];
}
/** The newest (or the pinned) Debian package of a suite whose name matches a glob. */
export interface DebianSpec {
  kind: 'debian';
  label?: string;
  suite: string;
  package: string;
  version?: string;
  note?: string;
  guest?: GuestSettings;
}
/** A kernel image (bzImage/vmlinuz) and optionally its modules tree, e.g. a user's own build. */
export interface ImageSpec {
  kind: 'image';
  label?: string;
  image: string;
  modules?: string;
  note?: string;
  guest?: GuestSettings;
}
/** A kernel built from source (Debian's linux-source-<version> or a tree) with the project's config fragments. */
export interface BuildSpecOf {
  kind: 'build';
  label?: string;
  source: BuildSource;
  fragments: string[];
  note?: string;
  guest?: GuestSettings;
}
/** What a candidate kernel is and where it comes from. */
export type KernelSpec = HostSpec | DebianSpec | ImageSpec | BuildSpecOf;

function guestSettings(g: v.InferOutput<typeof GuestSettings> | undefined): GuestSettings | undefined {
  if (!g) return undefined;
  return { memoryMiB: g.memory, cpus: g.cpus, numaNodes: g.numa_nodes, append: g.append?.split(/\s+/).filter(Boolean) };
}

/** The candidates file read back: specs by label, in file order, and the named sets. */
export interface Candidates {
  /** File it came from. */ file: string;
  /** Specs in file order. */ specs: KernelSpec[];
  /** Named sets. */ sets: Map<string, KernelSet>;
}

/** Reads and validates a candidates file; a bad file is an InputError at the offending line. */
export function loadCandidates(file = DEFAULT_KERNELS_FILE): Candidates {
  const src = readYaml(file);
  const data = validate(src, KernelsFileSchema);
  const specs: KernelSpec[] = [];
  const seen = new Map<string, number>();
  data.candidates.forEach((c, i) => {
    if (seen.has(c.label)) {
      const pos = src.doc.getIn(['candidates', i, 'label'], true) as { range?: [number, number, number] } | undefined;
      const lc = pos?.range ? src.lines.linePos(pos.range[0]) : { line: 0, col: 0 };
      throw new InputError(
        file,
        lc.line,
        lc.col,
        `candidates.${i}.label: "${c.label}" is already the label of candidate ${seen.get(c.label)}`,
      );
    }
    seen.set(c.label, i);
    if (c.source === 'host') specs.push({ kind: 'host', label: c.label, note: c.note });
    else if (c.source === 'debian')
      specs.push({
        kind: 'debian',
        label: c.label,
        suite: c.suite,
        package: c.package,
        version: c.version,
        note: c.note,
        guest: guestSettings(c.guest),
      });
    else if (c.source === 'image')
      specs.push({
        kind: 'image',
        label: c.label,
        image: resolve(c.image),
        modules: c.modules ? resolve(c.modules) : undefined,
        note: c.note,
        guest: guestSettings(c.guest),
      });
    else {
      const source: BuildSource =
        c.tree !== undefined
          ? { kind: 'tree', path: resolve(c.tree) }
          : { kind: 'debian', suite: c.suite as string, package: c.package as string, version: c.version };
      specs.push({
        kind: 'build',
        label: c.label,
        source,
        fragments: c.fragments,
        note: c.note,
        guest: guestSettings(c.guest),
      });
    }
  });
  const sets = new Map<string, KernelSet>();
  for (const [name, set] of Object.entries(data.sets ?? {})) {
    set.kernels.forEach((label, i) => {
      if (!seen.has(label)) {
        const node = src.doc.getIn(['sets', name, 'kernels', i], true) as
          | { range?: [number, number, number] }
          | undefined;
        const lc = node?.range ? src.lines.linePos(node.range[0]) : { line: 0, col: 0 };
        throw new InputError(
          file,
          lc.line,
          lc.col,
          `sets.${name}.kernels.${i}: no candidate is labelled "${label}" (labels: ${[...seen.keys()].join(', ')})`,
        );
      }
    });
    sets.set(name, { kernels: set.kernels, tests: set.tests ?? [], exclude: set.exclude ?? [] });
  }
  if (!sets.has('default'))
    sets.set('default', { kernels: specs.map((s) => s.label as string), tests: [], exclude: [] });
  return { file, specs, sets };
}

/** Fragments a kernel tree given on the command line is built with (fixtures/kconfig/<name>.config). */
export const DEFAULT_BUILD_FRAGMENTS = ['sw-protected-vm', 'numa', 'hugetlb', 'guest-init'] as const;

/** The help text describing kernel specs, shared by `kernels` and `bisect`. */
export const SPEC_HELP = `kernel specs:
  host                     the live kernel, run directly (no VM)
  LABEL                    a candidate of fixtures/kernels.yaml (6.1, 6.12, 7.2, 7.3-rc, 7.2-hugetlb, 7.2-sw, 7.3-rc-sw)
  LABEL=VERSION            that candidate's package at an exact Debian version (6.12=6.12.94-1)
  SUITE:PACKAGE[=VERSION]  a Debian package (* = any run of non-"-" characters), newest unless
                           pinned: trixie:linux-image-6.12.*-amd64-unsigned, sid:linux-binary-7.2.*-amd64
  DIR                      a kernel tree (Makefile and Kconfig at its top): built with the default
                           fragments (sw-protected-vm, numa, hugetlb, guest-init), cached by commit
  PATH[:MODULES]           a kernel image you built (arch/x86/boot/bzImage) and optionally its
                           modules: a modules_install root (INSTALL_MOD_PATH) or lib/modules/<release>`;

/** Parses one kernel spec from the command line. */
export function parseKernelSpec(text: string, candidates: Candidates): KernelSpec {
  const byLabel = new Map(candidates.specs.map((s) => [s.label as string, s]));
  const known = byLabel.get(text);
  if (known) return known;
  if (text === 'host') return { kind: 'host', label: 'host' };
  const pinned = /^([^=:/]+)=([0-9][A-Za-z0-9.+~:-]*)$/.exec(text);
  if (pinned && byLabel.has(pinned[1] as string)) {
    const base = byLabel.get(pinned[1] as string) as KernelSpec;
    if (base.kind === 'build' && base.source.kind === 'debian')
      return { ...base, label: `${base.label}=${pinned[2]}`, source: { ...base.source, version: pinned[2] } };
    if (base.kind !== 'debian')
      throw new UsageError(
        `kernel spec "${text}": candidate ${base.label} is not a Debian package, it has no versions`,
      );
    return { ...base, label: `${base.label}=${pinned[2]}`, version: pinned[2] };
  }
  if (text.includes('/') && existsSync(join(resolve(text), 'Kconfig')) && existsSync(join(resolve(text), 'Makefile')))
    return { kind: 'build', source: { kind: 'tree', path: resolve(text) }, fragments: [...DEFAULT_BUILD_FRAGMENTS] };
  if (text.includes('/')) {
    const colon = text.indexOf(':');
    const image = resolve(colon >= 0 ? text.slice(0, colon) : text);
    const modules = colon >= 0 ? resolve(text.slice(colon + 1)) : undefined;
    if (!existsSync(image)) throw new UsageError(`kernel spec "${text}": no kernel image at ${image}`);
    if (modules && !existsSync(modules))
      throw new UsageError(`kernel spec "${text}": no modules directory at ${modules}`);
    return { kind: 'image', image, modules };
  }
  const deb = /^([a-z][a-z0-9-]*):([a-z0-9][a-z0-9.+*?-]*)(?:=([0-9][A-Za-z0-9.+~:-]*))?$/.exec(text);
  if (deb) return { kind: 'debian', suite: deb[1] as string, package: deb[2] as string, version: deb[3] };
  throw new UsageError(
    `kernel spec "${text}" is not a candidate label (${[...byLabel.keys()].join(', ')}), LABEL=VERSION, SUITE:PACKAGE[=VERSION] or a path to a kernel image`,
  );
}

/** A named set (its specs in order, and its default case selection). */
export function kernelSet(candidates: Candidates, name: string): KernelSet & { specs: KernelSpec[] } {
  const set = candidates.sets.get(name);
  if (!set)
    throw new UsageError(
      `no kernel set "${name}" in ${candidates.file} (sets: ${[...candidates.sets.keys()].join(', ')})`,
    );
  return { ...set, specs: set.kernels.map((l) => parseKernelSpec(l, candidates)) };
}

/** A regular expression (whole name) for a package glob: * is any run of non-"-" characters, ? one of them. */
export function packageRegex(glob: string): string {
  return glob
    .replace(/[.+^$()[\]{}|\\]/g, (c) => `\\${c}`)
    .replace(/\*/g, '[^-]*')
    .replace(/\?/g, '[^-]');
}
