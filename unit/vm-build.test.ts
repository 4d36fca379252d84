/** Kernels built from source without building one: fragments, the cache key, build candidates, guest settings, NUMA arguments, and which KVM module serves /dev/kvm. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FRAGMENTS_DIR,
  conflictingOptions,
  listFragments,
  loadFragment,
  parseFragment,
  unmetOptions,
} from '../lib/vm/kconfig-fragment.js';
import {
  BASE_CONFIG_TARGETS,
  BUILD_RECIPE,
  buildIdentity,
  buildKey,
  failureLines,
  loadFragments,
} from '../lib/vm/kernel-build.js';
import {
  DEFAULT_BUILD_FRAGMENTS,
  DEFAULT_KERNELS_FILE,
  kernelSet,
  loadCandidates,
  parseKernelSpec,
} from '../lib/vm/candidates.js';
import { guestSettingsFor } from '../lib/vm/candidate-run.js';
import { numaArgs } from '../lib/vm/qemu.js';
import { identifyKvmModule, type KvmModuleFacts } from '../lib/harness/kvm-module.js';
import { configMatchesRelease } from '../lib/harness/env.js';
import { packagedConfig } from '../lib/vm/kernel-source.js';
import { InputError } from '../lib/errors.js';
import { cli, useScratchDirs } from './helpers.js';

const scratch = useScratchDirs();

test('the project fragments parse, and together ask for SW_PROTECTED_VM, NUMA, hugetlbfs, 9p and /proc/config.gz', () => {
  assert.deepEqual(listFragments(), ['guest-init', 'hugetlb', 'numa', 'slim', 'sw-protected-vm']);
  const all = loadFragments([...DEFAULT_BUILD_FRAGMENTS]);
  const want: [string, string][] = [
    ['CONFIG_KVM_SW_PROTECTED_VM', 'y'],
    ['CONFIG_EXPERT', 'y'],
    ['CONFIG_KVM', 'y'],
    ['CONFIG_KVM_AMD', 'y'],
    ['CONFIG_NUMA', 'y'],
    ['CONFIG_HUGETLBFS', 'y'],
    ['CONFIG_9P_FS', 'y'],
    ['CONFIG_NET_9P_VIRTIO', 'y'],
    ['CONFIG_IKCONFIG_PROC', 'y'],
  ];
  for (const [k, v] of want)
    assert.ok(
      all.some((f) => f.options.get(k) === v),
      `${k}=${v} is in a fragment`,
    );
  assert.deepEqual(conflictingOptions(all), []);
  for (const f of all) assert.equal(f.path, join(FRAGMENTS_DIR, `${f.name}.config`));
});

test('fragment lines: values, "is not set", comments; anything else is an error at its line and column', () => {
  const f = parseFragment(
    't',
    '/x/t.config',
    '# a comment\nCONFIG_A=y\n\n# CONFIG_B is not set\nCONFIG_C="str"\nCONFIG_D=64\n',
  );
  assert.deepEqual(
    [...f.options],
    [
      ['CONFIG_A', 'y'],
      ['CONFIG_B', 'n'],
      ['CONFIG_C', '"str"'],
      ['CONFIG_D', '64'],
    ],
  );
  const bad: [string, RegExp][] = [
    ['CONFIG_A=y\nKVM=y\n', /\/x\/t\.config:2:1: not a kconfig line/],
    ['CONFIG_A=\n', /\/x\/t\.config:1:10: CONFIG_A has no value/],
    ['CONFIG_A=y\nCONFIG_A=n\n', /\/x\/t\.config:2:1: CONFIG_A is set twice, to y and to n/],
    ['# only comments\n', /\/x\/t\.config:1:1: the fragment sets no CONFIG_ option/],
  ];
  for (const [text, message] of bad)
    assert.throws(
      () => parseFragment('t', '/x/t.config', text),
      (e: Error) => e instanceof InputError && message.test(e.message),
      text,
    );
  assert.throws(
    () => loadFragment('no-such-fragment'),
    /no kconfig fragment "no-such-fragment" \(the project's: guest-init, hugetlb, numa, slim, sw-protected-vm\)/,
  );
});

test('two fragments setting one option differently are refused, naming both', () => {
  const dir = scratch('gmem-frag-');
  writeFileSync(join(dir, 'a.config'), 'CONFIG_NUMA=y\n');
  writeFileSync(join(dir, 'b.config'), '# CONFIG_NUMA is not set\n');
  assert.throws(
    () => loadFragments([join(dir, 'a.config'), join(dir, 'b.config')]),
    /CONFIG_NUMA: .*a\.config sets y, .*b\.config sets n/,
  );
});

test('the final .config is checked: an option that did not stick (missing dependency) is reported with what it became', () => {
  const frag = parseFragment(
    'sw',
    '/x/sw.config',
    'CONFIG_KVM_SW_PROTECTED_VM=y\nCONFIG_NUMA=y\n# CONFIG_X is not set\nCONFIG_Y=m\n',
  );
  const dot =
    '# Linux/x86 7.2.13 Kernel Configuration\n# CONFIG_KVM_SW_PROTECTED_VM is not set\nCONFIG_NUMA=y\nCONFIG_Y=y\n';
  assert.deepEqual(unmetOptions([frag], dot), [
    { option: 'CONFIG_KVM_SW_PROTECTED_VM', wanted: 'y', got: 'n', fragment: 'sw' },
    { option: 'CONFIG_Y', wanted: 'm', got: 'y', fragment: 'sw' },
  ]);
  assert.deepEqual(unmetOptions([parseFragment('z', '/z', 'CONFIG_GONE=y\n')], ''), [
    { option: 'CONFIG_GONE', wanted: 'y', got: 'absent', fragment: 'z' },
  ]);
});

test('the cache key changes with the source version, any fragment byte, fragment order and the recipe, and with nothing else', () => {
  const frags = loadFragments([...DEFAULT_BUILD_FRAGMENTS]);
  const base = buildKey(buildIdentity('debian sid linux-source-7.2=7.2.13-1', frags));
  assert.match(base, /^[0-9a-f]{64}$/);
  assert.equal(
    buildKey(buildIdentity('debian sid linux-source-7.2=7.2.13-1', loadFragments([...DEFAULT_BUILD_FRAGMENTS]))),
    base,
    'stable across loads',
  );
  assert.notEqual(buildKey(buildIdentity('debian sid linux-source-7.2=7.2.14-1', frags)), base);
  const edited = frags.map((f, i) => (i === 0 ? parseFragment(f.name, f.path, `${f.text}\n`) : f));
  assert.notEqual(
    buildKey(buildIdentity('debian sid linux-source-7.2=7.2.13-1', edited)),
    base,
    'a fragment edit, even a blank line, rebuilds',
  );
  assert.notEqual(
    buildKey(buildIdentity('debian sid linux-source-7.2=7.2.13-1', [...frags].reverse())),
    base,
    'merge order matters',
  );
  const id = buildIdentity('debian sid linux-source-7.2=7.2.13-1', frags);
  assert.equal(id.recipe, BUILD_RECIPE);
  assert.deepEqual(id.baseTargets, BASE_CONFIG_TARGETS);
  assert.notEqual(buildKey({ ...id, recipe: id.recipe + 1 }), base);
  assert.notEqual(buildKey({ ...id, baseTargets: ['defconfig'] }), base);
});

test("a failed build step is explained by the compiler/kconfig line, not by make's echoes", () => {
  const log =
    'make[1]: Entering directory x\n  CC foo.o\ninit/Kconfig:1529: can\'t open file "usr/Kconfig"\nmake[3]: *** [Makefile:95: defconfig] Error 1\nmake: *** [Makefile:260: __sub-make] Error 2\n';
  assert.deepEqual(failureLines(log), ['init/Kconfig:1529: can\'t open file "usr/Kconfig"']);
});

test("kernels.yaml: the SW_PROTECTED candidates are builds of Debian's linux-source with two NUMA nodes and huge pages", () => {
  const c = loadCandidates(DEFAULT_KERNELS_FILE);
  for (const label of ['7.2-sw', '7.3-rc-sw']) {
    const s = parseKernelSpec(label, c);
    assert.equal(s.kind, 'build');
    if (s.kind !== 'build') continue;
    assert.equal(s.source.kind, 'debian');
    assert.ok(s.fragments.includes('sw-protected-vm'));
    assert.equal(s.guest?.numaNodes, 2);
    assert.ok(s.guest?.append?.some((w) => /^hugepages=\d+$/.test(w)));
    assert.ok((s.guest?.memoryMiB ?? 0) >= 4096);
  }
  assert.deepEqual(kernelSet(c, 'private').kernels, ['7.2-sw', '7.3-rc-sw']);
  const pinned = parseKernelSpec('7.2-sw=7.2.13-1', c);
  assert.ok(pinned.kind === 'build' && pinned.source.kind === 'debian' && pinned.source.version === '7.2.13-1');
});

const BAD_BUILDS: [string, string, RegExp][] = [
  [
    'a build with neither package nor tree',
    'candidates:\n  - label: b\n    source: build\n    fragments: [numa]\n',
    /candidates\.0: a build candidate has either suite \+ package/,
  ],
  [
    'a build with both',
    'candidates:\n  - label: b\n    source: build\n    suite: sid\n    package: linux-source-7.2\n    tree: /usr/src\n    fragments: [numa]\n',
    /a build candidate has either/,
  ],
  [
    'a build without fragments',
    'candidates:\n  - label: b\n    source: build\n    suite: sid\n    package: linux-source-7.2\n    fragments: []\n',
    /k\.yaml:6:16: candidates\.0\.fragments: /,
  ],
  [
    'a non-source package',
    'candidates:\n  - label: b\n    source: build\n    suite: sid\n    package: linux-image-7.2\n    fragments: [numa]\n',
    /k\.yaml:5:14: .*linux-source-<version>/,
  ],
  [
    'an unknown guest key',
    'candidates:\n  - label: b\n    source: debian\n    suite: sid\n    package: linux-binary-7.2.*-amd64\n    guest: { ram: 4096 }\n',
    /k\.yaml:6:14: candidates\.0\.guest\.ram: Invalid key/,
  ],
  [
    'too many NUMA nodes',
    'candidates:\n  - label: b\n    source: debian\n    suite: sid\n    package: linux-binary-7.2.*-amd64\n    guest: { numa_nodes: 64 }\n',
    /k\.yaml:6:26: candidates\.0\.guest\.numa_nodes/,
  ],
  [
    'an append with a newline',
    'candidates:\n  - label: b\n    source: debian\n    suite: sid\n    package: linux-binary-7.2.*-amd64\n    guest: { append: "a\\nb" }\n',
    /candidates\.0\.guest\.append: kernel command-line words on one line/,
  ],
];

for (const [what, text, message] of BAD_BUILDS) {
  test(`kernels.yaml: ${what} is an error at its position`, () => {
    const dir = scratch('gmem-unit-');
    const file = join(dir, 'k.yaml');
    writeFileSync(file, text);
    assert.throws(
      () => loadCandidates(file),
      (e: Error) => e instanceof InputError && message.test(e.message),
      String(text),
    );
  });
}

test('a kernel tree on the command line is a build with the default fragments; a tree: candidate resolves its path', () => {
  const dir = scratch('gmem-tree-');
  writeFileSync(join(dir, 'Makefile'), '');
  writeFileSync(join(dir, 'Kconfig'), '');
  const c = loadCandidates(DEFAULT_KERNELS_FILE);
  assert.deepEqual(parseKernelSpec(dir, c), {
    kind: 'build',
    source: { kind: 'tree', path: dir },
    fragments: [...DEFAULT_BUILD_FRAGMENTS],
  });
  const file = join(dir, 'k.yaml');
  writeFileSync(
    file,
    `candidates:\n  - label: mine\n    source: build\n    tree: ${dir}\n    fragments: [sw-protected-vm]\n`,
  );
  const s = loadCandidates(file).specs[0];
  assert.ok(s?.kind === 'build' && s.source.kind === 'tree' && s.source.path === dir);
});

test("guest settings: the candidate's, with the command line's memory winning and its append words after", () => {
  const c = loadCandidates(DEFAULT_KERNELS_FILE);
  const sw = parseKernelSpec('7.2-sw', c);
  const g = guestSettingsFor(sw, {});
  assert.equal(g.memoryMiB, 4096);
  assert.equal(g.numaNodes, 2);
  const cli = guestSettingsFor(sw, { memoryMiB: 6144, append: ['quiet'] });
  assert.equal(cli.memoryMiB, 6144);
  assert.equal(cli.append.at(-1), 'quiet');
  assert.ok(cli.append.includes('hugepages=64'));
  assert.equal(guestSettingsFor(parseKernelSpec('7.2', c), {}).memoryMiB, 2048);
});

test('kernels.yaml: a candidate that reserves 1 GiB huge pages at boot has the 5 GiB they need (a free GiB-aligned GiB)', () => {
  // at 4 GiB every GiB-aligned GiB of a QEMU pc guest holds the kernel, a NODE_DATA, the BIOS area or the initrd
  // (fixtures/kernels.yaml, README "1 GiB huge pages in a guest"); 7.2.13 pre-allocates two at 5 GiB
  const c = loadCandidates(DEFAULT_KERNELS_FILE);
  const gigantic = c.specs.filter((s) => s.kind !== 'host' && (s.guest?.append ?? []).includes('hugepagesz=1G'));
  assert.deepEqual(
    gigantic.map((s) => s.label),
    ['7.2-hugetlb'],
  );
  for (const s of gigantic) assert.ok(s.kind !== 'host' && (s.guest?.memoryMiB ?? 0) >= 5120, `${s.label}: memory`);
  // the default set's guests reserve no huge pages: the memfd cases on 1 GiB pages alone outlast its 900 s limit
  for (const label of kernelSet(c, 'default').kernels) assert.ok(!gigantic.some((s) => s.label === label), label);
  const set = kernelSet(c, 'hugetlb');
  assert.deepEqual([set.kernels, set.tests, set.exclude], [['7.2-hugetlb'], ['memfd'], []]);
});

test('NUMA: memory split into RAM backends (remainder to the last), CPUs round-robin, nothing for one node', () => {
  assert.deepEqual(numaArgs(4096, 1, 1), []);
  assert.deepEqual(numaArgs(4097, 2, 2), [
    '-object',
    'memory-backend-ram,id=gmem-node0,size=2048M',
    '-numa',
    'node,nodeid=0,memdev=gmem-node0,cpus=0',
    '-object',
    'memory-backend-ram,id=gmem-node1,size=2049M',
    '-numa',
    'node,nodeid=1,memdev=gmem-node1,cpus=1',
  ]);
  assert.deepEqual(
    numaArgs(3072, 1, 3).filter((a) => a.startsWith('node,')),
    ['node,nodeid=0,memdev=gmem-node0,cpus=0', 'node,nodeid=1,memdev=gmem-node1', 'node,nodeid=2,memdev=gmem-node2'],
  );
});

const facts = (present: Record<string, string | null>, flags: string[]): KvmModuleFacts => ({
  modules: ['kvm_pvm', 'kvm_intel', 'kvm_amd', 'kvm_arm'].map((name) => ({
    name,
    present: name in present,
    initstate: present[name] ?? null,
  })),
  cpuFlags: new Set(flags),
  kvmPresent: true,
});

test('KVM module: built-in kvm_intel and kvm_amd both in /sys/module, only the one the CPU supports initialised', () => {
  assert.equal(
    identifyKvmModule(facts({ kvm_intel: null, kvm_amd: null }, ['fpu', 'svm'])),
    'kvm_amd',
    'TCG -cpu max: svm, no vmx',
  );
  assert.equal(identifyKvmModule(facts({ kvm_intel: null, kvm_amd: null }, ['fpu', 'vmx'])), 'kvm_intel');
  assert.equal(
    identifyKvmModule(facts({ kvm_intel: null, kvm_amd: null }, ['fpu'])),
    'kvm',
    'neither could initialise',
  );
  assert.equal(identifyKvmModule(facts({ kvm_intel: 'live' }, [])), 'kvm_intel', 'a loaded module says live');
  assert.equal(
    identifyKvmModule(facts({ kvm_intel: 'going', kvm_amd: 'live' }, ['vmx'])),
    'kvm_amd',
    'initstate beats the CPU flag',
  );
  assert.equal(identifyKvmModule(facts({ kvm_pvm: null }, [])), 'kvm_pvm', 'PVM needs neither vmx nor svm');
  assert.equal(identifyKvmModule({ modules: [], cpuFlags: new Set(), kvmPresent: false }), 'none');
});

test('a kernel config is trusted only for the kernel it describes; packaged configs are found', () => {
  const dot =
    '#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 7.2.13 Kernel Configuration\n#\nCONFIG_KVM=y\n';
  assert.ok(configMatchesRelease(dot, '7.2.13+deb14-amd64'));
  assert.ok(!configMatchesRelease(dot, '6.18.44-fc-v509'));
  assert.ok(configMatchesRelease(dot.replace('7.2.13', '7.3.0-rc7'), '7.3.0-rc7-amd64'));
  assert.ok(!configMatchesRelease('CONFIG_KVM=y\n', '7.2.13'));
  const dir = scratch('gmem-pkg-');
  mkdirSync(join(dir, 'usr/lib/modules/7.2.13+deb14-amd64'), { recursive: true });
  writeFileSync(join(dir, 'usr/lib/modules/7.2.13+deb14-amd64/config'), dot);
  assert.equal(
    packagedConfig(dir, { release: '7.2.13+deb14-amd64', modulesDir: 'usr/lib/modules/7.2.13+deb14-amd64' }),
    join(dir, 'usr/lib/modules/7.2.13+deb14-amd64/config'),
  );
  assert.equal(packagedConfig(dir, { release: 'x', modulesDir: null }), null);
});

test('kernels build refuses what is not built from source, and bad build options, with exit 2 or 5 before building', () => {
  const a = cli(['kernels', 'build', '7.2']);
  assert.equal(a.status, 2);
  assert.match(a.stderr, /none of 7\.2 is built from source/);
  const b = cli(['kernels', 'build', '7.2-sw', '--build-timeout', 'soon']);
  assert.equal(b.status, 2);
  assert.match(b.stderr, /--build-timeout/);
  const c = cli(['kernels', 'build', '7.2-sw', '--fragments', 'no-such']);
  assert.equal(c.status, 5);
  assert.match(c.stderr, /no kconfig fragment "no-such"/);
});
