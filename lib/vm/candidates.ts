/** Candidate kernels: fixtures/kernels.yaml (validated, positioned errors) and the kernel specs the CLI accepts. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as v from 'valibot';
import { readYaml, validate, InputError } from '../fixtures/source.js';
import { DEFAULT_FIXTURES_DIR } from '../cli/paths.js';
import { UsageError } from '../cli/usage-error.js';

/** The default candidates file. */
export const DEFAULT_KERNELS_FILE = resolve(DEFAULT_FIXTURES_DIR, 'kernels.yaml');

const Label = v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'a label is letters, digits and . _ + - (it names a results file)'));
const DebianVersion = v.pipe(v.string(), v.regex(/^[0-9][A-Za-z0-9.+~:-]*$/, 'not a Debian version'));
const PackageGlob = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9.+*?-]*$/, 'a package name, where * and ? are wildcards'));

const HostCandidate = v.strictObject({ label: Label, source: v.literal('host'), note: v.optional(v.string()) });
const DebianCandidate = v.strictObject({
  label: Label, source: v.literal('debian'), suite: v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]*$/, 'a Debian suite name')),
  package: PackageGlob, version: v.optional(DebianVersion), note: v.optional(v.string()),
});
const ImageCandidate = v.strictObject({
  label: Label, source: v.literal('image'), image: v.string(), modules: v.optional(v.string()), note: v.optional(v.string()),
});

/** Schema of fixtures/kernels.yaml. */
export const KernelsFileSchema = v.strictObject({
  candidates: v.pipe(v.array(v.variant('source', [HostCandidate, DebianCandidate, ImageCandidate])), v.minLength(1)),
  sets: v.optional(v.record(Label, v.strictObject({
    kernels: v.pipe(v.array(Label), v.minLength(1)),
    tests: v.optional(v.array(v.string())),
    exclude: v.optional(v.array(v.string())),
  }))),
});

/** A named, ordered list of candidates with the cases it runs by default. */
export interface KernelSet {
  /** Candidate labels, oldest first. */ kernels: string[];
  /** -t selectors used when the command line has none (empty: every case). */ tests: string[];
  /** -x selectors used when the command line has none. */ exclude: string[];
}

/** The live kernel (no VM). */
export interface HostSpec { kind: 'host'; label: string; note?: string }
/** The newest (or the pinned) Debian package of a suite whose name matches a glob. */
export interface DebianSpec { kind: 'debian'; label?: string; suite: string; package: string; version?: string; note?: string }
/** A kernel image (bzImage/vmlinuz) and optionally its modules tree, e.g. a user's own build. */
export interface ImageSpec { kind: 'image'; label?: string; image: string; modules?: string; note?: string }
/** What a candidate kernel is and where it comes from. */
export type KernelSpec = HostSpec | DebianSpec | ImageSpec;

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
      throw new InputError(file, lc.line, lc.col, `candidates.${i}.label: "${c.label}" is already the label of candidate ${seen.get(c.label)}`);
    }
    seen.set(c.label, i);
    if (c.source === 'host') specs.push({ kind: 'host', label: c.label, note: c.note });
    else if (c.source === 'debian') specs.push({ kind: 'debian', label: c.label, suite: c.suite, package: c.package, version: c.version, note: c.note });
    else specs.push({ kind: 'image', label: c.label, image: resolve(c.image), modules: c.modules ? resolve(c.modules) : undefined, note: c.note });
  });
  const sets = new Map<string, KernelSet>();
  for (const [name, set] of Object.entries(data.sets ?? {})) {
    set.kernels.forEach((label, i) => {
      if (!seen.has(label)) {
        const node = src.doc.getIn(['sets', name, 'kernels', i], true) as { range?: [number, number, number] } | undefined;
        const lc = node?.range ? src.lines.linePos(node.range[0]) : { line: 0, col: 0 };
        throw new InputError(file, lc.line, lc.col, `sets.${name}.kernels.${i}: no candidate is labelled "${label}" (labels: ${[...seen.keys()].join(', ')})`);
      }
    });
    sets.set(name, { kernels: set.kernels, tests: set.tests ?? [], exclude: set.exclude ?? [] });
  }
  if (!sets.has('default')) sets.set('default', { kernels: specs.map((s) => s.label as string), tests: [], exclude: [] });
  return { file, specs, sets };
}

/** The help text describing kernel specs, shared by `kernels` and `bisect`. */
export const SPEC_HELP = `kernel specs:
  host                     the live kernel, run directly (no VM)
  LABEL                    a candidate of fixtures/kernels.yaml (6.1, 6.12, 7.2, 7.3-rc)
  LABEL=VERSION            that candidate's package at an exact Debian version (6.12=6.12.94-1)
  SUITE:PACKAGE[=VERSION]  a Debian package (* = any run of non-"-" characters), newest unless
                           pinned: trixie:linux-image-6.12.*-amd64-unsigned, sid:linux-binary-7.2.*-amd64
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
    if (base.kind !== 'debian') throw new UsageError(`kernel spec "${text}": candidate ${base.label} is not a Debian package, it has no versions`);
    return { ...base, label: `${base.label}=${pinned[2]}`, version: pinned[2] };
  }
  if (text.includes('/')) {
    const colon = text.indexOf(':');
    const image = resolve(colon >= 0 ? text.slice(0, colon) : text);
    const modules = colon >= 0 ? resolve(text.slice(colon + 1)) : undefined;
    if (!existsSync(image)) throw new UsageError(`kernel spec "${text}": no kernel image at ${image}`);
    if (modules && !existsSync(modules)) throw new UsageError(`kernel spec "${text}": no modules directory at ${modules}`);
    return { kind: 'image', image, modules };
  }
  const deb = /^([a-z][a-z0-9-]*):([a-z0-9][a-z0-9.+*?-]*)(?:=([0-9][A-Za-z0-9.+~:-]*))?$/.exec(text);
  if (deb) return { kind: 'debian', suite: deb[1] as string, package: deb[2] as string, version: deb[3] };
  throw new UsageError(`kernel spec "${text}" is not a candidate label (${[...byLabel.keys()].join(', ')}), LABEL=VERSION, SUITE:PACKAGE[=VERSION] or a path to a kernel image`);
}

/** A named set (its specs in order, and its default case selection). */
export function kernelSet(candidates: Candidates, name: string): KernelSet & { specs: KernelSpec[] } {
  const set = candidates.sets.get(name);
  if (!set) throw new UsageError(`no kernel set "${name}" in ${candidates.file} (sets: ${[...candidates.sets.keys()].join(', ')})`);
  return { ...set, specs: set.kernels.map((l) => parseKernelSpec(l, candidates)) };
}

/** A regular expression (whole name) for a package glob: * is any run of non-"-" characters, ? one of them. */
export function packageRegex(glob: string): string {
  return glob.replace(/[.+^$()[\]{}|\\]/g, (c) => `\\${c}`).replace(/\*/g, '[^-]*').replace(/\?/g, '[^-]');
}
