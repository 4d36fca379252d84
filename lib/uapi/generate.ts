/**
 * Generates lib/uapi/linux.generated.ts from Debian sid's linux-libc-dev (a 7.x uapi).
 *
 *   npx tsc -p tsconfig.json && node dist/lib/uapi/generate.js [--check]
 *
 * The values are never typed in: names are harvested from the headers, and every value, size and
 * offset is what gcc computes for x86_64 (a C program is compiled against the cached headers and
 * run). `--check` regenerates in memory and exits 1 when the checked-in file differs.
 * Environment: UAPI_HEADERS_DIR (use an unpacked tree instead of calling fetch-headers.sh), and the
 * variables of fetch-headers.sh (UAPI_LIBC_DEV_VERSION to pin a version, UAPI_REFRESH=1, ...).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Where a header tree came from (the `.complete` stamp written by fetch-headers.sh). */
export interface HeaderTree {
  /** Root of the unpacked package (contains usr/include). */
  dir: string;
  /** Debian package version, e.g. 7.2.13-1. */
  version: string;
  /** Debian suite it was fetched from. */
  suite: string;
  /** SHA-256 of the .deb. */
  sha256: string;
}

/** The project root: the nearest ancestor of this file holding lib/uapi/fetch-headers.sh. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'lib', 'uapi', 'fetch-headers.sh'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('lib/uapi/fetch-headers.sh not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Reads the `.complete` stamp of an unpacked tree. */
export function readHeaderTree(dir: string): HeaderTree {
  const stamp = join(dir, '.complete');
  const fields = new Map<string, string>();
  if (existsSync(stamp)) {
    for (const line of readFileSync(stamp, 'utf8').split('\n')) {
      const m = /^([\w-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(m[1]!, m[2]!.trim());
    }
  }
  return {
    dir,
    version: fields.get('Version') ?? 'unknown',
    suite: fields.get('Suite') ?? 'unknown',
    sha256: fields.get('SHA256') ?? 'unknown',
  };
}

/** Runs fetch-headers.sh (downloading only when the cache lacks the wanted version) and returns the tree. */
export function fetchHeaders(env: NodeJS.ProcessEnv = {}): HeaderTree {
  if (process.env.UAPI_HEADERS_DIR && !env.UAPI_LIBC_DEV_VERSION)
    return readHeaderTree(resolve(process.env.UAPI_HEADERS_DIR));
  const script = join(projectRoot(), 'lib', 'uapi', 'fetch-headers.sh');
  const r = spawnSync('bash', [script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.error) throw new Error(`cannot run ${script}: ${r.error.message}`, { cause: r.error });
  if (r.status !== 0) throw new Error(`${script} exited with status ${r.status ?? r.signal}`);
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  if (!dir || !existsSync(join(dir, 'usr', 'include', 'linux', 'kvm.h')))
    throw new Error(`${script} printed no header tree (got ${JSON.stringify(r.stdout)})`);
  return readHeaderTree(dir);
}

/** gcc flags that put a tree's uapi headers ahead of the system's (x86_64 multiarch layout). */
export function includeFlags(dir: string): string[] {
  return ['-isystem', join(dir, 'usr', 'include'), '-isystem', join(dir, 'usr', 'include', 'x86_64-linux-gnu')];
}

// ---------------------------------------------------------------------------------------------
// What to harvest

/** A source of constants: a header whose names are harvested, filtered by `pick`. */
interface Harvest {
  file: string;
  pick: RegExp;
}

/** A translation unit: what it includes, which names it harvests, which structs it lays out. */
interface Unit {
  id: 'kernel' | 'libc';
  /** true: only the kernel's headers are visible (-nostdinc), so no libc value can leak in. */
  kernelOnly: boolean;
  /** Macros defined before the includes. */
  defines: string[];
  includes: string[];
  harvest: Harvest[];
  structs: string[];
}

const ALL = /^[A-Za-z]\w*$/;

/** The kernel uapi headers the kernel-only unit includes (unit/uapi.test.ts compiles its cross-check against the same set). */
export const KERNEL_HEADERS: string[] = [
  'linux/types.h',
  'linux/ioctl.h',
  'linux/kvm.h',
  'linux/memfd.h',
  'linux/fcntl.h',
  'linux/falloc.h',
  'linux/mman.h',
  'linux/mempolicy.h',
  'linux/fs.h',
  'linux/stat.h',
  'asm/stat.h',
  'asm/signal.h',
  'linux/resource.h',
  'linux/sched.h',
  'linux/magic.h',
  'linux/errno.h',
  'asm/unistd.h',
  'asm/socket.h',
  'linux/time.h',
  'linux/time_types.h',
  'asm/siginfo.h',
  'asm/ioctls.h',
  'linux/fadvise.h',
  'linux/kvm_para.h',
];

const KERNEL: Unit = {
  id: 'kernel',
  kernelOnly: true,
  defines: [],
  includes: KERNEL_HEADERS,
  harvest: [
    { file: 'linux/kvm.h', pick: ALL },
    { file: 'asm/kvm.h', pick: ALL },
    { file: 'linux/kvm_para.h', pick: /^KVM_HC_/ },
    { file: 'asm/kvm_para.h', pick: /^KVM_MAP_GPA_RANGE_/ },
    { file: 'linux/memfd.h', pick: ALL },
    { file: 'linux/fcntl.h', pick: ALL },
    { file: 'asm-generic/fcntl.h', pick: ALL },
    { file: 'linux/falloc.h', pick: ALL },
    { file: 'asm-generic/mman-common.h', pick: ALL },
    { file: 'asm-generic/mman.h', pick: ALL },
    { file: 'asm/mman.h', pick: ALL },
    { file: 'linux/mman.h', pick: ALL },
    { file: 'linux/mempolicy.h', pick: ALL },
    {
      file: 'linux/fs.h',
      pick: /^(SEEK_|RENAME_|FS_IOC_|FIBMAP$|FIGETBSZ$|FICLONE|FIDEDUPERANGE$|FIFREEZE$|FITHAW$|FITRIM$)/,
    },
    { file: 'linux/stat.h', pick: /^(S_|STATX_)/ },
    { file: 'linux/time.h', pick: /^(CLOCK_|TIMER_ABSTIME$)/ },
    { file: 'asm-generic/siginfo.h', pick: /^(SIGEV_|SI_)/ },
    { file: 'asm-generic/ioctls.h', pick: /^(FIO|TIOCINQ$)/ },
    { file: 'linux/fadvise.h', pick: /^POSIX_FADV_/ },
    { file: 'asm/signal.h', pick: ALL },
    { file: 'asm-generic/signal-defs.h', pick: ALL },
    { file: 'asm-generic/resource.h', pick: ALL },
    { file: 'linux/resource.h', pick: ALL },
    { file: 'linux/sched.h', pick: ALL },
    { file: 'asm-generic/socket.h', pick: /^(SOL_|SO_|SCM_)/ },
    { file: 'linux/magic.h', pick: ALL },
  ],
  structs: [
    'kvm_create_guest_memfd',
    'kvm_userspace_memory_region',
    'kvm_userspace_memory_region2',
    'kvm_memory_attributes',
    'kvm_pre_fault_memory',
    'kvm_enable_cap',
    'kvm_regs',
    'kvm_sregs',
    'kvm_segment',
    'kvm_dtable',
    'kvm_run',
    'kvm_dirty_log',
    'kvm_clear_dirty_log',
    'kvm_irqfd',
    'stat',
    'kvm_sev_cmd',
    'kvm_sev_launch_start',
    'sigevent',
    '__kernel_itimerspec',
    '__kernel_timespec',
    'cachestat_range',
    'cachestat',
  ],
};

const LIBC: Unit = {
  id: 'libc',
  kernelOnly: false,
  defines: ['_GNU_SOURCE'],
  includes: ['sys/types.h', 'sys/socket.h', 'sys/uio.h', 'sys/un.h'],
  harvest: [
    { file: 'bits/socket.h', pick: /^(AF_|SOCK_|MSG_|SCM_|SHUT_|SOMAXCONN$)/ },
    { file: 'bits/socket_type.h', pick: /^SOCK_/ },
  ],
  structs: ['msghdr', 'cmsghdr', 'iovec'],
};

/** Headers read only to follow aliases (MFD_HUGE_2MB -> HUGETLB_FLAG_ENCODE_2MB) when choosing hex or decimal. */
const RESOLVE_ONLY = ['asm-generic/hugetlb_encode.h'];

const ERRNO_FILES = ['asm-generic/errno-base.h', 'asm-generic/errno.h'];
const SYSCALL_FILE = 'asm/unistd_64.h';

// ---------------------------------------------------------------------------------------------
// Header text

/** Strips comments and joins continuation lines. */
function cleanSource(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/[^\n]*/g, '')
    .replace(/\\\r?\n/g, ' ');
}

/** A harvested name with the text that defines it. */
interface Definition {
  name: string;
  /** Definition text (macro body or enum initializer), whitespace collapsed. */
  text: string;
  /** Header it was harvested from, as included (e.g. linux/kvm.h). */
  header: string;
  kind: 'macro' | 'enum';
}

/** Object-like macros and enum constants of a header, in order of appearance. */
function definitionsOf(text: string, header: string): Definition[] {
  const src = cleanSource(text);
  const found: { at: number; def: Definition }[] = [];
  const enums = new Set<string>();
  for (const m of src.matchAll(/\benum\b\s*\w*\s*\{([^}]*)\}/g)) {
    const bodyAt = m.index + m[0].indexOf('{') + 1;
    const body = m[1]!.replace(/^[ \t]*#[^\n]*$/gm, (line) => ' '.repeat(line.length));
    let at = bodyAt;
    for (const item of body.split(',')) {
      const e = /^\s*([A-Za-z_]\w*)\s*(?:=\s*([\s\S]+?))?\s*$/.exec(item);
      if (e) {
        const def: Definition = {
          name: e[1]!,
          text: e[2] ? '= ' + e[2].replace(/\s+/g, ' ') : '(implicit)',
          header,
          kind: 'enum',
        };
        found.push({ at, def });
        enums.add(def.name);
      }
      at += item.length + 1;
    }
  }
  for (const m of src.matchAll(/^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(\(?)([^\n]*)$/gm)) {
    if (m[2] === '(') continue; // function-like
    const text = m[3]!.trim().replace(/\s+/g, ' ');
    if (text === m[1] && enums.has(text)) continue; // `#define SCM_RIGHTS SCM_RIGHTS` after the enum constant
    found.push({ at: m.index, def: { name: m[1]!, text, header, kind: 'macro' } });
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.def);
}

/** Finds an included header on disk: the tree's headers first, then the system's. */
function locate(tree: string, header: string): string {
  const dirs = [
    join(tree, 'usr/include/x86_64-linux-gnu'),
    join(tree, 'usr/include'),
    '/usr/include/x86_64-linux-gnu',
    '/usr/include',
  ];
  for (const d of dirs) if (existsSync(join(d, header))) return join(d, header);
  throw new Error(`header ${header} not found in ${dirs.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// Compiling

/** One line of a generated C program: `key` identifies it, `code` is a statement in main(). */
interface Probe {
  key: string;
  code: string;
}

/** Result of a program that printed one `key<TAB>value...` line per probe. */
interface ProbeRun {
  values: Map<string, string[]>;
  dropped: string[];
}

function gcc(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync('gcc', args, { encoding: 'utf8' });
  if (r.error)
    throw new Error(`cannot run gcc (${r.error.message}): install it with apt-get install gcc`, { cause: r.error });
  return { status: r.status, stderr: r.stderr };
}

function unitFlags(unit: Unit, tree: string): string[] {
  return [...(unit.kernelOnly ? ['-nostdinc'] : []), ...includeFlags(tree), '-std=gnu11', '-w', '-fmax-errors=0'];
}

function prelude(unit: Unit): string {
  const lines = [...unit.defines.map((d) => `#define ${d} 1`), ...unit.includes.map((h) => `#include <${h}>`)];
  if (unit.kernelOnly) lines.push('int printf(const char *, ...);');
  else lines.push('#include <stdio.h>');
  lines.push(
    '#define V(key, e) do { switch (0) { case (e): default: break; } \\',
    '  if ((e) < 0) printf("%s\\t-%llu\\n", key, 0ULL - (unsigned long long)(e)); \\',
    '  else printf("%s\\t%llu\\n", key, (unsigned long long)(e)); } while (0)',
    '#define F(key, T, f) printf("%s\\t%lu\\t%lu\\n", key, (unsigned long)__builtin_offsetof(T, f), (unsigned long)sizeof(((T *)0)->f))',
    '#define A(key, T, f, e) printf("%s\\t%lu\\t%lu\\t%lu\\n", key, (unsigned long)__builtin_offsetof(T, f), (unsigned long)sizeof(((T *)0)->f), (unsigned long)(sizeof(((T *)0)->f) / sizeof(((T *)0)->e)))',
    '#define X(key, T, f) printf("%s\\t%lu\\t0\\t0\\n", key, (unsigned long)__builtin_offsetof(T, f))',
    '#define S(key, T) printf("%s\\t%lu\\n", key, (unsigned long)sizeof(T))',
  );
  return lines.join('\n') + '\n';
}

/**
 * Compiles and runs a program of probes. A probe gcc rejects (not an integer constant expression,
 * not defined on x86_64, a bitfield...) is dropped and the rest compiled again, until it builds.
 */
function runProbes(unit: Unit, tree: string, probes: Probe[], work: string, tag: string): ProbeRun {
  const head = prelude(unit);
  const first = head.split('\n').length + 1; // line of the first probe (after "int main(void) {")
  let live = probes.slice();
  const dropped: string[] = [];
  const src = join(work, `${unit.id}-${tag}.c`);
  const exe = join(work, `${unit.id}-${tag}`);
  for (let round = 0; ; round++) {
    writeFileSync(src, head + 'int main(void) {\n' + live.map((p) => p.code).join('\n') + '\nreturn 0; }\n');
    const r = gcc([...unitFlags(unit, tree), '-o', exe, src]);
    if (r.status === 0) break;
    const bad = new Set<number>();
    for (const m of r.stderr.matchAll(new RegExp(`^${src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):`, 'gm'))) {
      const i = Number(m[1]) - first;
      if (i >= 0 && i < live.length) bad.add(i);
    }
    if (bad.size === 0 || round > 50)
      throw new Error(`gcc failed on ${src} and no probe line could be blamed:\n${r.stderr.slice(0, 4000)}`);
    dropped.push(...live.filter((_, i) => bad.has(i)).map((p) => p.key));
    live = live.filter((_, i) => !bad.has(i));
  }
  const run = spawnSync(exe, [], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`${exe} exited with ${run.status ?? run.signal}: ${run.stderr}`);
  const values = new Map<string, string[]>();
  for (const line of run.stdout.split('\n')) {
    if (!line) continue;
    const [key, ...rest] = line.split('\t');
    values.set(key!, rest);
  }
  return { values, dropped };
}

// ---------------------------------------------------------------------------------------------
// Struct layouts from the preprocessed headers

/** A field of a struct as declared: dotted path and array dimensions (empty: not an array). */
interface FieldDecl {
  path: string;
  dims: string[];
  flexible: boolean;
}

/** Index of the brace matching the one at `open`. */
function matchBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return i;
  }
  throw new Error('unbalanced braces');
}

/** Splits at `sep` where no (), [] or {} is open. */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (c === sep && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

function stripAttributes(s: string): string {
  let out = s.replace(/\b__extension__\b/g, ' ');
  for (;;) {
    const i = out.search(/\b__attribute__\s*\(\(/);
    if (i < 0) return out;
    let depth = 0;
    let j = out.indexOf('(', i);
    for (; j < out.length; j++) {
      if (out[j] === '(') depth++;
      else if (out[j] === ')' && --depth === 0) break;
    }
    out = out.slice(0, i) + ' ' + out.slice(j + 1);
  }
}

/** Parses a declarator such as `*name`, `name[4][2]`, `name : 3`; null for bitfields. */
function parseDeclarator(d: string): { name: string; dims: string[]; flexible: boolean } | null {
  if (/:/.test(d)) return null;
  const m = /^\s*\**\s*([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)$/.exec(d);
  if (!m) return null;
  const dims = [...m[2]!.matchAll(/\[([^\]]*)\]/g)].map((x) => x[1]!.trim());
  return { name: m[1]!, dims, flexible: dims.length > 0 && dims[dims.length - 1] === '' };
}

/** Fields of a struct body; nested anonymous aggregates are flattened, named ones give dotted paths. */
function parseBody(body: string, prefix: string, out: FieldDecl[]): void {
  for (const raw of splitTop(body, ';')) {
    const stmt = stripAttributes(raw).trim();
    if (!stmt) continue;
    const open = stmt.indexOf('{');
    if (open >= 0) {
      const close = matchBrace(stmt, open);
      const inner = stmt.slice(open + 1, close);
      const decls = stmt.slice(close + 1).trim();
      if (!decls) {
        parseBody(inner, prefix, out); // anonymous struct/union: members belong to the parent
        continue;
      }
      for (const d of splitTop(decls, ',')) {
        const p = parseDeclarator(d);
        if (!p) continue;
        out.push({ path: prefix + p.name, dims: p.dims, flexible: p.flexible });
        if (p.dims.length === 0) parseBody(inner, prefix + p.name + '.', out);
      }
      continue;
    }
    const parts = splitTop(stmt, ',');
    // the first part holds the type: its declarator is the trailing `*name[..]`
    const m = /([*\s]*[A-Za-z_]\w*\s*(?:\[[^\]]*\]\s*)*(?::\s*\w+\s*)?)$/.exec(parts[0]!);
    if (!m) continue;
    parts[0] = m[1]!;
    for (const d of parts) {
      const p = parseDeclarator(d);
      if (p) out.push({ path: prefix + p.name, dims: p.dims, flexible: p.flexible });
    }
  }
}

/** The preprocessed text of a unit, with the header each line came from. */
function preprocess(unit: Unit, tree: string, work: string): { text: string; fileAt: (offset: number) => string } {
  const src = join(work, `${unit.id}-pp.c`);
  writeFileSync(
    src,
    [...unit.defines.map((d) => `#define ${d} 1`), ...unit.includes.map((h) => `#include <${h}>`)].join('\n') + '\n',
  );
  const r = spawnSync('gcc', [...unitFlags(unit, tree), '-E', src], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw new Error(`cannot run gcc: ${r.error.message}`, { cause: r.error });
  if (r.status !== 0) throw new Error(`gcc -E failed:\n${r.stderr}`);
  const lines: string[] = [];
  const starts: number[] = [];
  const files: string[] = [];
  let file = '';
  let offset = 0;
  for (const line of r.stdout.split('\n')) {
    const mark = /^# \d+ "([^"]+)"/.exec(line);
    if (mark) {
      file = mark[1]!;
      continue;
    }
    starts.push(offset);
    files.push(file);
    lines.push(line);
    offset += line.length + 1;
  }
  const fileAt = (at: number): string => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return files[lo] ?? '';
  };
  return { text: lines.join('\n'), fileAt };
}

/** Makes a header path relative to the include directory it was found in. */
function shortHeader(path: string): string {
  const m = /\/usr\/include\/(?:x86_64-linux-gnu\/)?(.*)$/.exec(path) ?? /\/uapi\/x86\/(asm\/.*)$/.exec(path);
  return m ? m[1]! : path;
}

// ---------------------------------------------------------------------------------------------
// Emitting

/** A constant with its computed value. */
interface Constant extends Definition {
  value: bigint;
}

/** A struct layout as computed by gcc. */
interface StructOut {
  name: string;
  header: string;
  size: number;
  fields: { path: string; offset: number; size: number; count?: number }[];
}

function resolveText(d: Definition, defs: Map<string, Definition>): string {
  let text = d.text;
  for (let i = 0; i < 8; i++) {
    const alias = /^\(?\s*([A-Za-z_]\w*)\s*\)?$/.exec(text);
    const next = alias ? defs.get(alias[1]!) : undefined;
    if (!next || next.name === d.name) break;
    text = next.text;
  }
  return text;
}

/** Hex for ioctls, flags, masks and octal modes; decimal for counts, numbers, enum indices. */
function isFlagLike(d: Definition, defs: Map<string, Definition>): boolean {
  const t = resolveText(d, defs);
  return /0[xX][0-9a-fA-F]|<<|\b_IO[RW]*\s*\(|\b_IOC\s*\(|\b_BITU?L{0,2}\s*\(|\bBIT\s*\(|\||~|^\(?\s*0[0-7]+[uUlL]*\s*\)?$/.test(
    t,
  );
}

function literal(v: bigint, hex: boolean): string {
  const safe = v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER);
  // negative: decimal; beyond 2^53 (masks, all-ones sentinels): always hex, as a bigint
  const body = v < 0n ? '-' + (-v).toString(10) : hex || !safe ? '0x' + v.toString(16) : v.toString(10);
  return safe ? body : body + 'n';
}

function docText(s: string): string {
  return s.replace(/\*\//g, '*\\/').replace(/\s+/g, ' ').trim();
}

function quoteKey(k: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`;
}

interface Generated {
  tree: HeaderTree;
  constants: Constant[];
  errno: [string, number][];
  syscalls: [string, number][];
  structs: StructOut[];
  dropped: { unit: string; names: string[] }[];
  /** Every definition read, harvested or not, by name (first wins). */
  allDefs: Map<string, Definition>;
  /** Headers whose constants come from glibc rather than the kernel. */
  libcHeaders: Set<string>;
}

/** Name tables emitted beside the constants, so that requirements naming them are checked by tsc. */
const NAME_TABLES = [
  {
    table: 'KVM_CAPS',
    type: 'KvmCapName',
    header: 'linux/kvm.h',
    pattern: /^KVM_CAP_/,
    doc: 'KVM_CHECK_EXTENSION capabilities',
    typeDoc: "A KVM_CAP_* name, e.g. 'KVM_CAP_GUEST_MEMFD'.",
  },
  {
    table: 'VM_TYPES',
    type: 'VmTypeName',
    header: 'asm/kvm.h',
    pattern: /^KVM_X86_\w+_VM$/,
    doc: "x86 VM types (KVM_CREATE_VM's argument)",
    typeDoc: "A KVM_X86_*_VM name, e.g. 'KVM_X86_SW_PROTECTED_VM'.",
  },
  {
    table: 'GUEST_MEMFD_FLAGS',
    type: 'GmemFlagName',
    header: 'linux/kvm.h',
    pattern: /^GUEST_MEMFD_FLAG_/,
    doc: 'KVM_CREATE_GUEST_MEMFD flags',
    typeDoc: "A GUEST_MEMFD_FLAG_* name, e.g. 'GUEST_MEMFD_FLAG_MMAP'.",
  },
] as const;

function emit(g: Generated): string {
  const o: string[] = [];
  const v = g.tree.version;
  o.push(`// GENERATED by lib/uapi/generate.ts from linux-libc-dev ${v} — DO NOT EDIT`);
  o.push('// Regenerate: npx tsc -p tsconfig.json && node dist/lib/uapi/generate.js');
  o.push('// Every value below was computed by gcc for x86_64 from the headers of that package.');
  o.push('/* eslint-disable */');
  o.push('');
  o.push('/** Which uapi headers these tables were generated from. */');
  o.push('export const UAPI_SOURCE = {');
  o.push(`  package: 'linux-libc-dev',`);
  o.push(`  version: '${v}',`);
  o.push(`  suite: '${g.tree.suite}',`);
  o.push(`  debSha256: '${g.tree.sha256}',`);
  o.push(`  arch: 'x86_64',`);
  o.push(`  generatedBy: 'lib/uapi/generate.ts',`);
  o.push('} as const;');
  o.push('');
  o.push('/** Layout of one struct field: byte offset and size (arrays: whole array; count = number of elements). */');
  o.push('export interface FieldLayout {');
  o.push('  /** Byte offset from the start of the struct (offsetof). */');
  o.push('  readonly offset: number;');
  o.push('  /** Size in bytes (sizeof); 0 for a flexible array member. */');
  o.push('  readonly size: number;');
  o.push('  /** Number of elements, for arrays only (all dimensions multiplied). */');
  o.push('  readonly count?: number;');
  o.push('}');
  o.push('');
  o.push('/** Layout of one struct: its size and its fields by (dotted, for nested members) name. */');
  o.push('export interface StructLayout {');
  o.push('  /** sizeof(struct ...). */');
  o.push('  readonly size: number;');
  o.push('  /** Fields by name; members of named nested structs/unions are dotted, e.g. io.port. */');
  o.push('  readonly fields: Readonly<Record<string, FieldLayout>>;');
  o.push('}');
  o.push('');
  let section = '';
  const defs = g.allDefs;
  for (const c of g.constants) {
    if (c.header !== section) {
      section = c.header;
      o.push(`// ---- <${section}>${g.libcHeaders.has(section) ? ' (glibc: not in the kernel uapi)' : ''}`);
    }
    const what = c.kind === 'enum' ? `enum constant ${c.name} ${c.text}` : `#define ${c.name} ${c.text}`;
    o.push(`/** ${docText(what)} — <${c.header}> */`);
    o.push(`export const ${c.name} = ${literal(c.value, isFlagLike(c, defs))};`);
  }
  o.push('');
  o.push('/** errno values by name (asm-generic/errno-base.h, asm-generic/errno.h); aliases included. */');
  o.push('export const ERRNO = Object.freeze({');
  for (const [n, e] of g.errno) o.push(`  ${n}: ${e},`);
  o.push('} as const);');
  o.push('');
  o.push("/** An errno name the uapi tables know, e.g. 'EINVAL': a misspelt name does not compile. */");
  o.push('export type ErrnoName = keyof typeof ERRNO;');
  o.push('');
  o.push('/** errno names by value; for aliases (EWOULDBLOCK, EDEADLOCK) the first name defined wins. */');
  o.push('export const ERRNO_NAME: Readonly<Record<number, ErrnoName>> = Object.freeze({');
  const seen = new Set<number>();
  for (const [n, e] of g.errno) {
    if (seen.has(e)) continue;
    seen.add(e);
    o.push(`  ${e}: '${n}',`);
  }
  o.push('});');
  o.push('');
  o.push('/** x86_64 syscall numbers (asm/unistd_64.h): `__NR_foo` is SYSCALL.foo. */');
  o.push('export const SYSCALL = Object.freeze({');
  for (const [n, e] of g.syscalls) o.push(`  ${n}: ${e},`);
  o.push('} as const);');
  o.push('');
  o.push("/** A syscall name of asm/unistd_64.h, e.g. 'memfd_create'. */");
  o.push('export type SyscallName = keyof typeof SYSCALL;');
  o.push('');
  for (const t of NAME_TABLES) {
    const names = g.constants.filter((c) => t.header === c.header && t.pattern.test(c.name)).map((c) => c.name);
    o.push(`/** ${t.doc} by name (the constants above, <${t.header}>). */`);
    o.push(`export const ${t.table} = Object.freeze({`);
    for (const n of names) o.push(`  ${n},`);
    o.push('} as const);');
    o.push('');
    o.push(`/** ${t.typeDoc} */`);
    o.push(`export type ${t.type} = keyof typeof ${t.table};`);
    o.push('');
  }
  o.push('function deepFreeze<T>(o: T): T {');
  o.push('  if (o && typeof o === "object") for (const v of Object.values(o)) deepFreeze(v);');
  o.push('  return Object.freeze(o);');
  o.push('}');
  o.push('');
  o.push(
    '/** x86_64 struct layouts from offsetof/sizeof: kernel structs from the uapi, msghdr/cmsghdr/iovec from glibc. */',
  );
  o.push('export const STRUCTS = deepFreeze({');
  for (const s of g.structs) {
    o.push(`  /** struct ${s.name} <${s.header}>: ${s.size} bytes */`);
    o.push(`  ${quoteKey(s.name)}: {`);
    o.push(`    size: ${s.size},`);
    o.push('    fields: {');
    for (const f of s.fields) {
      const count = f.count === undefined ? '' : `, count: ${f.count}`;
      o.push(`      ${quoteKey(f.path)}: { offset: ${f.offset}, size: ${f.size}${count} },`);
    }
    o.push('    },');
    o.push('  },');
  }
  o.push('} as const satisfies Readonly<Record<string, StructLayout>>);');
  o.push('');
  return o.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

/** Computes everything that goes into linux.generated.ts from an unpacked header tree. */
export function generate(tree: HeaderTree): { text: string; generated: Generated } {
  const work = mkdtempSync(join(tmpdir(), 'uapi-gen-'));
  try {
    const constants: Constant[] = [];
    const dropped: { unit: string; names: string[] }[] = [];
    const taken = new Set<string>();
    const units = [KERNEL, LIBC];
    const structs: StructOut[] = [];
    let errno: [string, number][] = [];
    let syscalls: [string, number][] = [];
    const allDefs = new Map<string, Definition>();
    const remember = (ds: Definition[]): Definition[] => {
      for (const d of ds) if (!allDefs.has(d.name)) allDefs.set(d.name, d);
      return ds;
    };
    for (const f of RESOLVE_ONLY) remember(definitionsOf(readFileSync(locate(tree.dir, f), 'utf8'), f));
    for (const unit of units) {
      // constants
      const defs: Definition[] = [];
      for (const h of unit.harvest) {
        for (const d of remember(definitionsOf(readFileSync(locate(tree.dir, h.file), 'utf8'), h.file))) {
          if (!h.pick.test(d.name) || taken.has(d.name)) continue;
          taken.add(d.name);
          defs.push(d);
        }
      }
      const probes: Probe[] = defs.map((d) => ({ key: 'c:' + d.name, code: `V("c:${d.name}", ${d.name});` }));
      const errnoDefs: Definition[] = [];
      const sysDefs: Definition[] = [];
      if (unit.kernelOnly) {
        for (const f of ERRNO_FILES)
          for (const d of definitionsOf(readFileSync(locate(tree.dir, f), 'utf8'), f))
            if (/^E[A-Z0-9]+$/.test(d.name)) errnoDefs.push(d);
        for (const d of definitionsOf(readFileSync(locate(tree.dir, SYSCALL_FILE), 'utf8'), SYSCALL_FILE))
          if (d.name.startsWith('__NR_')) sysDefs.push(d);
        probes.push(...errnoDefs.map((d) => ({ key: 'e:' + d.name, code: `V("e:${d.name}", ${d.name});` })));
        probes.push(...sysDefs.map((d) => ({ key: 's:' + d.name, code: `V("s:${d.name}", ${d.name});` })));
      }
      const run = runProbes(unit, tree.dir, probes, work, 'const');
      dropped.push({ unit: unit.id, names: run.dropped.map((k) => k.slice(2)) });
      for (const d of defs) {
        const val = run.values.get('c:' + d.name);
        if (val) constants.push({ ...d, value: BigInt(val[0]!) });
      }
      if (unit.kernelOnly) {
        const num = (k: string): number => {
          const val = run.values.get(k);
          if (!val) throw new Error(`${k.slice(2)} did not compile`);
          return Number(val[0]);
        };
        errno = errnoDefs.map((d) => [d.name, num('e:' + d.name)]);
        syscalls = sysDefs
          .map((d) => [d.name.slice('__NR_'.length), num('s:' + d.name)] as [string, number])
          .sort((a, b) => a[1] - b[1]);
      }
      // structs
      const pp = preprocess(unit, tree.dir, work);
      const decls = new Map<string, { header: string; fields: FieldDecl[] }>();
      const sprobes: Probe[] = [];
      for (const name of unit.structs) {
        const m = new RegExp(`\\bstruct\\s+${name}\\s*\\{`).exec(pp.text);
        if (!m) throw new Error(`struct ${name} not found in the ${unit.id} headers`);
        const open = m.index + m[0].length - 1;
        const body = pp.text.slice(open + 1, matchBrace(pp.text, open));
        const fields: FieldDecl[] = [];
        parseBody(body, '', fields);
        decls.set(name, { header: shortHeader(pp.fileAt(m.index)), fields });
        const T = `struct ${name}`;
        sprobes.push({ key: `S:${name}`, code: `S("S:${name}", ${T});` });
        for (const f of fields) {
          const key = `F:${name}:${f.path}`;
          if (f.flexible) sprobes.push({ key, code: `X("${key}", ${T}, ${f.path});` });
          else if (f.dims.length)
            sprobes.push({ key, code: `A("${key}", ${T}, ${f.path}, ${f.path}${'[0]'.repeat(f.dims.length)});` });
          else sprobes.push({ key, code: `F("${key}", ${T}, ${f.path});` });
        }
      }
      const srun = runProbes(unit, tree.dir, sprobes, work, 'struct');
      if (srun.dropped.some((k) => k.startsWith('S:'))) throw new Error(`sizeof failed for ${srun.dropped.join(', ')}`);
      if (srun.dropped.length) dropped.push({ unit: unit.id + ' fields', names: srun.dropped.map((k) => k.slice(2)) });
      for (const name of unit.structs) {
        const d = decls.get(name)!;
        const out: StructOut = { name, header: d.header, size: Number(srun.values.get(`S:${name}`)![0]), fields: [] };
        for (const f of d.fields) {
          const val = srun.values.get(`F:${name}:${f.path}`);
          if (!val) continue;
          const field: StructOut['fields'][number] = { path: f.path, offset: Number(val[0]), size: Number(val[1]) };
          if (f.dims.length) field.count = Number(val[2]);
          out.fields.push(field);
        }
        structs.push(out);
      }
    }
    const libcHeaders = new Set(LIBC.harvest.map((h) => h.file));
    const generated: Generated = { tree, constants, errno, syscalls, structs, dropped, allDefs, libcHeaders };
    return { text: emit(generated), generated };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Path of the checked-in generated module. */
export function generatedPath(): string {
  return join(projectRoot(), 'lib', 'uapi', 'linux.generated.ts');
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const tree = fetchHeaders();
  const { text, generated } = generate(tree);
  const target = generatedPath();
  for (const d of generated.dropped)
    if (d.names.length)
      process.stderr.write(
        `generate: ${d.unit}: ${d.names.length} names are not integer constants here: ${d.names.join(' ')}\n`,
      );
  process.stderr.write(
    `generate: linux-libc-dev ${tree.version}: ${generated.constants.length} constants, ${generated.errno.length} errno names, ` +
      `${generated.syscalls.length} syscalls, ${generated.structs.length} structs\n`,
  );
  const old = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (check) {
    if (old !== text) {
      process.stderr.write(`generate: ${target} is out of date: run node dist/lib/uapi/generate.js\n`);
      return 1;
    }
    process.stderr.write(`generate: ${target} is up to date\n`);
    return 0;
  }
  if (old === text) process.stderr.write(`generate: ${target} unchanged\n`);
  else {
    writeFileSync(target, text);
    process.stderr.write(`generate: wrote ${target}\n`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`generate: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
