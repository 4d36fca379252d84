// Unit tests of lib/uapi: the generated tables against C's own sizeof/offsetof/_IOC values,
// the ioctl encoding helpers, errno lookups, and the proposals table's collision claims.
// Needs gcc and the cached headers (fetched through lib/uapi/fetch-headers.sh when absent):
// without gcc the C comparison fails, it never skips.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as uapi from '../lib/uapi/index.js';
import * as generated from '../lib/uapi/linux.generated.js';
import * as ioc from '../lib/uapi/ioc.js';
import { KERNEL_HEADERS, fetchHeaders, generate, generatedPath, type HeaderTree } from '../lib/uapi/generate.js';
import { PROPOSALS, PROPOSAL_ABI, PROPOSAL_STRUCTS } from '../lib/uapi/proposals.js';

const { STRUCTS, SYSCALL, ERRNO, ERRNO_NAME, UAPI_SOURCE, _IO, _IOR, _IOW, _IOWR, iocDir, iocNr, iocSize, iocType } =
  uapi;

type Layout = {
  readonly size: number;
  readonly fields: Readonly<
    Record<string, { readonly offset: number; readonly size: number; readonly count?: number }>
  >;
};
const structs = STRUCTS as unknown as Readonly<Record<string, Layout>>;

/** Numeric exports of a module (the generated constants, the _IOC_* constants of ioc.ts). */
function numericExports(mod: object): [string, number | bigint][] {
  return Object.entries(mod).filter(
    (e): e is [string, number | bigint] => typeof e[1] === 'number' || typeof e[1] === 'bigint',
  );
}

// -------------------------------------------------------------------------------------------
// (a) the guest-memfd-related ioctls, encoded and decoded

describe('ioctl numbers match _IOC(dir, 0xAE, nr, sizeof(struct))', () => {
  const R = ioc._IOC_READ;
  const W = ioc._IOC_WRITE;
  const cases: [name: string, dir: number, nr: number, struct: string | null][] = [
    ['KVM_CREATE_GUEST_MEMFD', R | W, 0xd4, 'kvm_create_guest_memfd'],
    ['KVM_SET_MEMORY_ATTRIBUTES', W, 0xd2, 'kvm_memory_attributes'],
    ['KVM_PRE_FAULT_MEMORY', R | W, 0xd5, 'kvm_pre_fault_memory'],
    ['KVM_SET_USER_MEMORY_REGION', W, 0x46, 'kvm_userspace_memory_region'],
    ['KVM_SET_USER_MEMORY_REGION2', W, 0x49, 'kvm_userspace_memory_region2'],
    ['KVM_ENABLE_CAP', W, 0xa3, 'kvm_enable_cap'],
    ['KVM_GET_REGS', R, 0x81, 'kvm_regs'],
    ['KVM_SET_REGS', W, 0x82, 'kvm_regs'],
    ['KVM_GET_SREGS', R, 0x83, 'kvm_sregs'],
    ['KVM_SET_SREGS', W, 0x84, 'kvm_sregs'],
    ['KVM_IRQFD', W, 0x76, 'kvm_irqfd'],
    ['KVM_GET_DIRTY_LOG', W, 0x42, 'kvm_dirty_log'],
    ['KVM_CLEAR_DIRTY_LOG', R | W, 0xc0, 'kvm_clear_dirty_log'],
    ['KVM_RUN', 0, 0x80, null],
    ['KVM_GET_API_VERSION', 0, 0x00, null],
    ['KVM_CREATE_VM', 0, 0x01, null],
    ['KVM_CHECK_EXTENSION', 0, 0x03, null],
    ['KVM_GET_VCPU_MMAP_SIZE', 0, 0x04, null],
    ['KVM_CREATE_VCPU', 0, 0x41, null],
    ['KVM_SET_TSS_ADDR', 0, 0x47, null],
  ];
  for (const [name, dir, nr, struct] of cases) {
    it(name, () => {
      const value = (generated as Record<string, unknown>)[name];
      assert.equal(typeof value, 'number', `${name} is not a generated number`);
      const cmd = value as number;
      const size = struct ? structs[struct]!.size : 0;
      const build = dir === (R | W) ? _IOWR : dir === R ? _IOR : dir === W ? _IOW : null;
      assert.equal(cmd, build ? build(generated.KVMIO, nr, size) : _IO(generated.KVMIO, nr), `${name} re-encoded`);
      assert.equal(iocDir(cmd), dir, `${name} direction`);
      assert.equal(iocType(cmd), 0xae, `${name} type`);
      assert.equal(iocNr(cmd), nr, `${name} nr`);
      assert.equal(iocSize(cmd), size, `${name} size = sizeof(struct ${struct ?? '-'})`);
    });
  }
  it('KVM_SET_IDENTITY_MAP_ADDR is _IOW(KVMIO, 0x48, __u64)', () => {
    assert.equal(generated.KVM_SET_IDENTITY_MAP_ADDR, _IOW(0xae, 0x48, 8));
  });
});

describe('ioc helpers', () => {
  it('encode and decode round-trip, unsigned', () => {
    const cmd = _IOWR(0xae, 0xd4, 64);
    assert.equal(cmd, 0xc040aed4);
    assert.ok(cmd > 0, 'result is unsigned');
    assert.deepEqual([iocDir(cmd), iocType(cmd), iocNr(cmd), iocSize(cmd)], [3, 0xae, 0xd4, 64]);
    assert.equal(ioc._IOC(2, 0xff, 0xff, 0x3fff), 0xbfffffff);
  });
  it('rejects fields that do not fit', () => {
    assert.throws(() => _IOW(0xae, 0x100, 8), RangeError);
    assert.throws(() => _IOW(0x100, 1, 8), RangeError);
    assert.throws(() => _IOW(0xae, 1, 1 << 14), RangeError);
    assert.throws(() => ioc._IOC(4, 0xae, 1, 0), RangeError);
    assert.throws(() => _IOR(0xae, 1, -1), RangeError);
  });
});

// -------------------------------------------------------------------------------------------
// (b) every generated value against what gcc computes from the same headers

/** Compiles a program of probe lines, dropping the lines gcc rejects; returns printed lines and dropped probes. */
function compileProbes(
  work: string,
  tag: string,
  head: string,
  lines: string[],
  flags: string[],
): { out: string[]; dropped: string[] } {
  const src = join(work, `${tag}.c`);
  const exe = join(work, tag);
  const firstLine = head.split('\n').length + 1;
  let live = lines.slice();
  const dropped: string[] = [];
  for (let round = 0; ; round++) {
    writeFileSync(src, `${head}int main(void) {\n${live.join('\n')}\nreturn 0; }\n`);
    const r = spawnSync('gcc', [...flags, '-w', '-fmax-errors=0', '-o', exe, src], { encoding: 'utf8' });
    if (r.error)
      assert.fail(`gcc could not be run (${r.error.message}): the C comparison needs gcc (apt-get install gcc)`);
    if (r.status === 0) break;
    const bad = new Set<number>();
    for (const line of r.stderr.split('\n')) {
      if (!line.startsWith(src + ':')) continue;
      const n = Number(line.slice(src.length + 1).split(':')[0]) - firstLine;
      if (n >= 0 && n < live.length) bad.add(n);
    }
    if (bad.size === 0 || round > 50) assert.fail(`gcc failed on ${src}:\n${r.stderr.slice(0, 3000)}`);
    dropped.push(...live.filter((_, i) => bad.has(i)));
    live = live.filter((_, i) => !bad.has(i));
  }
  const run = spawnSync(exe, [], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(run.status, 0, `${exe} failed: ${run.stderr}`);
  return { out: run.stdout.split('\n').filter(Boolean), dropped };
}

const LIBC_HEADERS = ['sys/types.h', 'sys/socket.h', 'sys/uio.h', 'sys/un.h', 'stdio.h'];
const LIBC_STRUCTS = new Set(['msghdr', 'cmsghdr', 'iovec']);

const MACROS = [
  '#define V(n) do { switch (0) { case (n): default: break; } if ((n) < 0) printf("c %s -%llu\\n", #n, 0ULL - (unsigned long long)(n)); else printf("c %s %llu\\n", #n, (unsigned long long)(n)); } while (0)',
  '#define N(key, n) printf("n %s %llu\\n", key, (unsigned long long)(n))',
  '#define SZ(T) printf("s %s %lu\\n", #T, (unsigned long)sizeof(struct T))',
  '#define FLD(T, k, f) printf("f %s %s %lu %lu\\n", #T, k, (unsigned long)__builtin_offsetof(struct T, f), (unsigned long)sizeof(((struct T *)0)->f))',
  '#define ARR(T, k, f) printf("a %s %s %lu %lu %lu\\n", #T, k, (unsigned long)__builtin_offsetof(struct T, f), (unsigned long)sizeof(((struct T *)0)->f), (unsigned long)(sizeof(((struct T *)0)->f) / sizeof(((struct T *)0)->f[0])))',
  '#define FLEX(T, k, f) printf("a %s %s %lu 0 0\\n", #T, k, (unsigned long)__builtin_offsetof(struct T, f))',
].join('\n');

/** Headers of the version the tables were generated from (or, if sid no longer serves it, the latest). */
let tree: HeaderTree;
let treeNote = '';
let work: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'uapi-test-'));
  try {
    tree = fetchHeaders({ UAPI_LIBC_DEV_VERSION: UAPI_SOURCE.version });
  } catch (e) {
    // sid serves one version at a time: compare against what it has now (the ABI must not change)
    tree = fetchHeaders({ UAPI_REFRESH: '1' });
    treeNote = `linux-libc-dev ${UAPI_SOURCE.version} is no longer served (${e instanceof Error ? e.message : String(e)}); compared against ${tree.version}`;
  }
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('generated tables agree with gcc', () => {
  it('uses the headers the tables were generated from', (t) => {
    if (treeNote) t.diagnostic(treeNote);
    if (tree.version === UAPI_SOURCE.version)
      assert.equal(tree.sha256, UAPI_SOURCE.debSha256, 'the cached .deb is the one the tables came from');
  });

  it('every constant, errno, syscall and struct field', (t) => {
    const inc = ['-isystem', join(tree.dir, 'usr/include'), '-isystem', join(tree.dir, 'usr/include/x86_64-linux-gnu')];
    const constants = [...numericExports(generated), ...numericExports(ioc)];
    const expected = new Map<string, string>();
    const kernelLines: string[] = [];
    for (const [name, value] of constants) {
      kernelLines.push(`V(${name});`);
      expected.set(`c ${name}`, String(value));
    }
    for (const [name, value] of Object.entries(ERRNO)) {
      kernelLines.push(`N("errno.${name}", ${name});`);
      expected.set(`n errno.${name}`, String(value));
    }
    for (const [name, value] of Object.entries(SYSCALL)) {
      kernelLines.push(`N("syscall.${name}", __NR_${name});`);
      expected.set(`n syscall.${name}`, String(value));
    }
    const structLines = (names: string[]): string[] => {
      const out: string[] = [];
      for (const s of names) {
        out.push(`SZ(${s});`);
        expected.set(`s ${s}`, String(structs[s]!.size));
        for (const [f, l] of Object.entries(structs[s]!.fields)) {
          if (l.count === undefined) {
            out.push(`FLD(${s}, "${f}", ${f});`);
            expected.set(`f ${s} ${f}`, `${l.offset} ${l.size}`);
          } else {
            out.push(l.size === 0 ? `FLEX(${s}, "${f}", ${f});` : `ARR(${s}, "${f}", ${f});`);
            expected.set(`a ${s} ${f}`, `${l.offset} ${l.size} ${l.count}`);
          }
        }
      }
      return out;
    };
    const names = Object.keys(structs);
    kernelLines.push(...structLines(names.filter((s) => !LIBC_STRUCTS.has(s))));
    const kernelHead = `${KERNEL_HEADERS.map((h) => `#include <${h}>`).join('\n')}\nint printf(const char *, ...);\n${MACROS}\n`;
    const k = compileProbes(work, 'kernel', kernelHead, kernelLines, ['-nostdinc', ...inc]);
    // what the kernel's headers do not define (AF_UNIX, SCM_RIGHTS, ...) must come from glibc
    const libcLines = [
      ...k.dropped.filter((l) => l.startsWith('V(')),
      ...structLines(names.filter((s) => LIBC_STRUCTS.has(s))),
    ];
    const libcHead = `#define _GNU_SOURCE 1\n${LIBC_HEADERS.map((h) => `#include <${h}>`).join('\n')}\n${MACROS}\n`;
    const g = compileProbes(work, 'libc', libcHead, libcLines, inc);
    const got = new Map<string, string>();
    for (const line of [...k.out, ...g.out]) {
      const parts = line.split(' ');
      const key =
        parts[0] === 'c' || parts[0] === 'n' || parts[0] === 's'
          ? parts.slice(0, 2).join(' ')
          : parts.slice(0, 3).join(' ');
      const value = parts.slice(parts[0] === 'c' || parts[0] === 'n' || parts[0] === 's' ? 2 : 3).join(' ');
      got.set(key, value);
    }
    const missing = [...k.dropped.filter((l) => !l.startsWith('V(')), ...g.dropped];
    assert.deepEqual(missing, [], 'probes gcc rejected in both translation units');
    const wrong: string[] = [];
    for (const [key, want] of expected) {
      const have = got.get(key);
      if (have !== want) wrong.push(`${key}: tables say ${want}, gcc says ${have ?? '(nothing)'}`);
    }
    assert.deepEqual(wrong, [], 'values that differ from gcc');
    t.diagnostic(
      `compared ${expected.size} values (${constants.length} constants, ${Object.keys(ERRNO).length} errno, ${Object.keys(SYSCALL).length} syscalls, ${names.length} structs) with gcc on linux-libc-dev ${tree.version}`,
    );
  });

  it('every KVM ioctl taking a struct in STRUCTS encodes sizeof that struct', () => {
    const kvmh = readFileSync(join(tree.dir, 'usr/include/linux/kvm.h'), 'utf8').replace(/\\\n\s*/g, ' ');
    let checked = 0;
    for (const m of kvmh.matchAll(
      /^#define\s+(KVM_\w+)\s+_IO(R|W|WR)\(KVMIO,\s*(0x[0-9a-fA-F]+),\s*struct\s+(\w+)\)/gm,
    )) {
      const [, name, dir, nr, struct] = m as unknown as [string, string, string, string, string];
      const layout = structs[struct];
      const value = (generated as Record<string, unknown>)[name];
      if (!layout || typeof value !== 'number') continue;
      assert.equal(iocSize(value), layout.size, `${name}: _IOC_SIZE vs sizeof(struct ${struct})`);
      assert.equal(iocNr(value), Number(nr), `${name}: nr`);
      assert.equal(iocDir(value), dir === 'R' ? 2 : dir === 'W' ? 1 : 3, `${name}: dir`);
      checked++;
    }
    assert.ok(checked >= 13, `only ${checked} ioctls checked`);
  });

  it('the checked-in linux.generated.ts is what generate.ts produces', (t) => {
    if (tree.version !== UAPI_SOURCE.version) {
      t.diagnostic(`not comparable: headers are ${tree.version}, the tables ${UAPI_SOURCE.version}`);
      return;
    }
    const { text } = generate(tree);
    assert.ok(
      text === readFileSync(generatedPath(), 'utf8'),
      'lib/uapi/linux.generated.ts is stale: run node dist/lib/uapi/generate.js',
    );
  });
});

// -------------------------------------------------------------------------------------------
// (c) known facts (ABI-CATALOG.md §1)

describe('known values', () => {
  it('guest_memfd ABI', () => {
    assert.equal(generated.KVM_CREATE_GUEST_MEMFD, 0xc040aed4);
    assert.equal(STRUCTS.kvm_create_guest_memfd.size, 64);
    assert.equal(STRUCTS.kvm_userspace_memory_region2.size, 160);
    assert.equal(STRUCTS.kvm_pre_fault_memory.size, 64);
    assert.equal(STRUCTS.kvm_memory_attributes.size, 32);
    assert.equal(generated.KVM_MEM_GUEST_MEMFD, 4);
    assert.equal(generated.KVM_MEMORY_ATTRIBUTE_PRIVATE, 8);
    assert.equal(generated.KVM_EXIT_MEMORY_FAULT, 39);
    assert.equal(generated.KVM_MEMORY_EXIT_FLAG_PRIVATE, 8);
    assert.equal(generated.GUEST_MEMFD_FLAG_MMAP, 1);
    assert.equal(generated.GUEST_MEMFD_FLAG_INIT_SHARED, 2);
    assert.equal(generated.KVMIO, 0xae);
  });
  it('capabilities and VM types', () => {
    assert.equal(generated.KVM_CAP_USER_MEMORY2, 231);
    assert.equal(generated.KVM_CAP_MEMORY_FAULT_INFO, 232);
    assert.equal(generated.KVM_CAP_MEMORY_ATTRIBUTES, 233);
    assert.equal(generated.KVM_CAP_GUEST_MEMFD, 234);
    assert.equal(generated.KVM_CAP_VM_TYPES, 235);
    assert.equal(generated.KVM_CAP_PRE_FAULT_MEMORY, 236);
    assert.equal(generated.KVM_CAP_GUEST_MEMFD_FLAGS, 244);
    assert.equal(generated.KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, 206);
    assert.deepEqual(
      [
        generated.KVM_X86_DEFAULT_VM,
        generated.KVM_X86_SW_PROTECTED_VM,
        generated.KVM_X86_SEV_VM,
        generated.KVM_X86_SEV_ES_VM,
        generated.KVM_X86_SNP_VM,
        generated.KVM_X86_TDX_VM,
      ],
      [0, 1, 2, 3, 4, 5],
    );
  });
  it('memfd, seals, O_LARGEFILE as the kernel defines it', () => {
    assert.deepEqual(
      [
        generated.MFD_CLOEXEC,
        generated.MFD_ALLOW_SEALING,
        generated.MFD_HUGETLB,
        generated.MFD_NOEXEC_SEAL,
        generated.MFD_EXEC,
      ],
      [1, 2, 4, 8, 0x10],
    );
    assert.deepEqual(
      [
        generated.F_SEAL_SEAL,
        generated.F_SEAL_SHRINK,
        generated.F_SEAL_GROW,
        generated.F_SEAL_WRITE,
        generated.F_SEAL_FUTURE_WRITE,
        generated.F_SEAL_EXEC,
      ],
      [1, 2, 4, 8, 0x10, 0x20],
    );
    assert.equal(generated.O_LARGEFILE, 0x8000);
    assert.equal(generated.O_RDWR | generated.O_LARGEFILE, 0x8002);
    assert.equal(generated.AT_FDCWD, -100);
  });
  it('errno and syscalls', () => {
    assert.equal(ERRNO.EINVAL, 22);
    assert.equal(ERRNO.EWOULDBLOCK, ERRNO.EAGAIN);
    assert.equal(ERRNO_NAME[11], 'EAGAIN');
    assert.equal(ERRNO_NAME[35], 'EDEADLK');
    assert.equal(SYSCALL.memfd_create, 319);
    assert.equal(SYSCALL.cachestat, 451);
    assert.equal(SYSCALL.fchmodat2, 452);
    assert.equal(uapi.errnoName(22), 'EINVAL');
    assert.equal(uapi.errnoName(100000), 'errno 100000');
    assert.equal(uapi.errnoValue('ENOENT'), 2);
    // @ts-expect-error a misspelt errno name does not compile; one that arrives untyped still throws
    assert.throws(() => uapi.errnoValue('ENOTANERRNO'), RangeError);
    assert.equal(uapi.formatErrno(22), 'EINVAL (22)');
  });
  it('kvm_run fields the suite reads', () => {
    const f = STRUCTS.kvm_run.fields;
    for (const name of [
      'request_interrupt_window',
      'immediate_exit',
      'exit_reason',
      'ready_for_interrupt_injection',
      'if_flag',
      'flags',
      'cr8',
      'apic_base',
      'io.direction',
      'io.size',
      'io.port',
      'io.count',
      'io.data_offset',
      'mmio.phys_addr',
      'mmio.data',
      'mmio.len',
      'mmio.is_write',
      'memory_fault.flags',
      'memory_fault.gpa',
      'memory_fault.size',
      'hw.hardware_exit_reason',
      'fail_entry.hardware_entry_failure_reason',
      'internal.suberror',
      'internal.ndata',
      'internal.data',
      'system_event.type',
      'kvm_valid_regs',
      'kvm_dirty_regs',
      's',
      'hypercall.nr',
      'hypercall.args',
      'hypercall.ret',
      'hypercall.flags',
    ])
      assert.ok(Object.hasOwn(f, name), `kvm_run.${name} missing`);
    assert.equal(f.exit_reason.offset, 8);
    assert.equal(f['io.port'].offset, 34);
    assert.equal(f['memory_fault.gpa'].offset, 40);
    assert.equal(f['hypercall.args'].offset, 40);
    assert.equal(uapi.KVM_EXIT_HYPERCALL, 3);
    assert.equal(uapi.KVM_HC_MAP_GPA_RANGE, 12);
    assert.equal(uapi.KVM_MAP_GPA_RANGE_ENCRYPTED, 16);
  });
  it('UAPI_SOURCE names the package', () => {
    assert.equal(UAPI_SOURCE.package, 'linux-libc-dev');
    assert.equal(UAPI_SOURCE.arch, 'x86_64');
    assert.match(UAPI_SOURCE.version, /^7\.\d+/);
    assert.match(
      readFileSync(generatedPath(), 'utf8').split('\n')[0]!,
      new RegExp(
        `^// GENERATED by lib/uapi/generate.ts from linux-libc-dev ${UAPI_SOURCE.version.replace(/\./g, '\\.')} — DO NOT EDIT$`,
      ),
    );
  });
});

// -------------------------------------------------------------------------------------------
// proposals: the collisions ABI-CATALOG.md §2 claims

describe('proposal ABIs and their mainline collisions', () => {
  const lookup = (name: string): number | bigint | undefined =>
    name.startsWith('SYSCALL.')
      ? (SYSCALL as Readonly<Record<string, number>>)[name.slice('SYSCALL.'.length)]
      : ((generated as Record<string, unknown>)[name] as number | bigint | undefined);

  it('every collidesWith names a mainline item with the same number', () => {
    for (const [key, p] of Object.entries(PROPOSAL_ABI)) {
      if (p.collidesWith === null) continue;
      assert.equal(lookup(p.collidesWith), p.value, `${key} (${p.value}) vs ${p.collidesWith}`);
    }
  });
  it('the collisions of ABI-CATALOG.md §2', () => {
    assert.equal(PROPOSAL_ABI.MFD_INACCESSIBLE.value, generated.MFD_NOEXEC_SEAL);
    assert.equal(PROPOSAL_ABI.F_SEAL_AUTO_ALLOCATE.value, generated.F_SEAL_EXEC);
    assert.equal(PROPOSAL_ABI.KVM_MEM_PRIVATE.value, generated.KVM_MEM_GUEST_MEMFD);
    assert.equal(PROPOSAL_ABI.memfd_restricted.value, SYSCALL.cachestat);
    assert.equal(PROPOSAL_ABI.memfd_restricted_bind.value, SYSCALL.fchmodat2);
    assert.equal(PROPOSAL_ABI.KVM_LINK_GUEST_MEMFD_V1.value, generated.KVM_PRE_FAULT_MEMORY);
    assert.equal(
      PROPOSAL_ABI.KVM_LINK_GUEST_MEMFD_V1.value,
      _IOWR(0xae, 0xd5, PROPOSAL_STRUCTS.kvm_link_guest_memfd.size),
    );
    assert.equal(PROPOSAL_ABI.KVM_LINK_GUEST_MEMFD_V2.value, _IOWR(0xae, 0xd6, 64));
  });
  it('a proposal number marked free is free in mainline', () => {
    const v2 = PROPOSAL_ABI.KVM_LINK_GUEST_MEMFD_V2.value;
    const taken = numericExports(generated).filter(
      ([n, v]) =>
        n.startsWith('KVM_') && typeof v === 'number' && v > 0xffff && iocType(v) === 0xae && iocNr(v) === iocNr(v2),
    );
    assert.deepEqual(taken, [], 'a mainline KVM ioctl uses nr 0xd6');
  });
  it('proposal structs: sizes and the mainline struct of identical layout', () => {
    const leaves = (l: Layout): [number, number][] =>
      Object.entries(l.fields)
        .filter(([n]) => !Object.keys(l.fields).some((m) => m.startsWith(n + '.')))
        .map(([, f]) => [f.offset, f.size]);
    for (const [name, s] of Object.entries(PROPOSAL_STRUCTS)) {
      if (s.sameLayoutAs === null) continue;
      const mainline = structs[s.sameLayoutAs];
      assert.ok(mainline, `${name}.sameLayoutAs ${s.sameLayoutAs} is not in STRUCTS`);
      assert.equal(s.size, mainline.size, `${name} size`);
      assert.deepEqual(leaves(s), leaves(mainline), `${name} vs ${s.sameLayoutAs} field offsets/sizes`);
    }
  });
  it('every entry cites a registered series', () => {
    const ids = new Set(PROPOSALS.map((p) => p.id));
    for (const [key, p] of [...Object.entries(PROPOSAL_ABI), ...Object.entries(PROPOSAL_STRUCTS)]) {
      assert.ok(ids.has(p.proposal), `${key}: unknown proposal ${p.proposal}`);
      const series = PROPOSALS.find((s) => s.id === p.proposal)!;
      assert.ok(p.source.includes(series.messageId), `${key}: source does not cite ${series.messageId}`);
    }
    for (const s of PROPOSALS) assert.match(s.date, /^\d{4}-\d{2}-\d{2}$/);
  });
});
