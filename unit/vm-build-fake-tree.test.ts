/** The build pipeline of `kernels build` end to end on a stand-in kernel tree (a Makefile with the targets the recipe calls), so that its steps, the cache record and the pruning of the object tree are checked without compiling a kernel. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const scratch = mkdtempSync(join(tmpdir(), 'gmem-fake-tree-'));
// the cache directory is chosen once per process, at its first use: point it at the scratch area first
process.env.GMEM_CACHE_DIR = join(scratch, 'cache');
const { buildKernel } = await import('../lib/vm/kernel-build.js');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const RELEASE = '9.9.9-fake';

/** A file that imageRelease() reads as a bzImage of RELEASE: "HdrS" at 0x202, the version string's offset at 0x20e. */
function fakeBzImage(): Buffer {
  const b = Buffer.alloc(0x1000);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x400 - 0x200, 0x20e);
  b.write(`${RELEASE} (fake@tree) #1`, 0x400, 'latin1');
  return b;
}

/** A git tree with Makefile + Kconfig whose targets do what the recipe needs, and scripts/kconfig/merge_config.sh. */
function fakeTree(): string {
  const tree = join(scratch, 'linux');
  mkdirSync(join(tree, 'scripts', 'kconfig'), { recursive: true });
  writeFileSync(join(tree, 'Kconfig'), 'mainmenu "fake"\n');
  writeFileSync(join(tree, 'fake-bzImage'), fakeBzImage());
  const recipe = (lines: string[]) => lines.map((l) => `\t${l}`).join('\n');
  writeFileSync(
    join(tree, 'Makefile'),
    [
      'O ?= .',
      `defconfig:\n${recipe(['mkdir -p $(O)', "printf 'CONFIG_FAKE=y\\nCONFIG_FAKE_MODULE=m\\n' > $(O)/.config"])}`,
      `kvm_guest.config olddefconfig modules:\n${recipe(['@true'])}`,
      `bzImage:\n${recipe(['mkdir -p $(O)/arch/x86/boot $(O)/objects', 'cp $(CURDIR)/fake-bzImage $(O)/arch/x86/boot/bzImage', 'echo object > $(O)/objects/a.o'])}`,
      `modules_install:\n${recipe([`mkdir -p $(INSTALL_MOD_PATH)/lib/modules/${RELEASE}`])}`,
      '',
    ].join('\n'),
  );
  // merge_config.sh -m -O OBJ BASE FRAGMENT...: the fragments' lines appended to the base (a later line wins)
  const merge = join(tree, 'scripts', 'kconfig', 'merge_config.sh');
  writeFileSync(merge, '#!/bin/bash\nset -e\nshift; shift; obj=$1; shift; base=$1; shift\ncat "$@" >> "$base"\n');
  chmodSync(merge, 0o755);
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', tree, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { stdio: 'ignore' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', 'fake tree');
  return tree;
}

test('a committed tree builds, is recorded, loses its object tree, and is then taken from the cache', () => {
  const tree = fakeTree();
  const spec = {
    kind: 'build' as const,
    label: 'fake',
    source: { kind: 'tree' as const, path: tree },
    fragments: ['sw-protected-vm'],
  };
  const log: string[] = [];
  const built = buildKernel(spec, (m) => log.push(m), { echo: false });
  assert.equal(built.release, RELEASE);
  assert.ok(existsSync(built.image), 'bzImage kept');
  assert.ok(built.config);
  assert.match(readFileSync(built.config, 'utf8'), /^CONFIG_KVM_SW_PROTECTED_VM=y$/m);
  assert.ok(built.modulesDir && existsSync(built.modulesDir), 'installed modules kept');
  const dir = join(built.image, '..');
  assert.ok(existsSync(join(dir, 'kernel.json')) && existsSync(join(dir, 'build.log')));
  assert.equal(existsSync(join(dir, 'obj')), false, 'object tree removed');
  assert.ok(
    log.some((l) => l.startsWith('removed the object tree')),
    log.join('\n'),
  );
  const again: string[] = [];
  assert.equal(buildKernel(spec, (m) => again.push(m), { echo: false }).image, built.image);
  assert.ok(
    again.some((l) => l.startsWith('cached build')),
    again.join('\n'),
  );
});

test('--keep-objects keeps the object tree; a tree with uncommitted changes keeps it for its incremental rebuild', () => {
  const tree = join(scratch, 'linux');
  const spec = {
    kind: 'build' as const,
    label: 'fake',
    source: { kind: 'tree' as const, path: tree },
    fragments: ['sw-protected-vm'],
  };
  const kept = buildKernel(spec, () => {}, { echo: false, force: true, keepObjects: true });
  assert.ok(existsSync(join(kept.image, '..', 'obj', 'objects', 'a.o')));
  writeFileSync(join(tree, 'Kconfig'), 'mainmenu "fake, edited"\n');
  const dirty = buildKernel(spec, () => {}, { echo: false });
  assert.notEqual(join(dirty.image, '..'), join(kept.image, '..'));
  assert.ok(existsSync(join(dirty.image, '..', 'obj', 'objects', 'a.o')), 'dirty tree keeps its objects');
});
