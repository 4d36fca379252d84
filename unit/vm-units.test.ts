/** The pieces of lib/vm that need no VM: cpio, Debian versions, kernels.yaml, kernel specs, verdicts, console scanning, module order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpioArchive } from '../lib/vm/cpio.js';
import { compareDebianVersions } from '../lib/vm/debian-version.js';
import {
  loadCandidates,
  packageRegex,
  parseKernelSpec,
  kernelSet,
  DEFAULT_KERNELS_FILE,
} from '../lib/vm/candidates.js';
import { judge } from '../lib/vm/judge.js';
import { scanConsole } from '../lib/vm/console.js';
import { loadOrder, moduleName, isStaticElf } from '../lib/vm/initramfs.js';
import { imageRelease } from '../lib/vm/kernel-source.js';
import { overallStatus, summaryTable } from '../lib/cli/kernels.js';
import { unavailableReport } from '../lib/vm/candidate-run.js';
import { InputError } from '../lib/errors.js';
import { guestPath, jobScript } from '../lib/vm/guest-init.js';
import { cli, useScratchDirs } from './helpers.js';

/** A temporary directory removed when the file's tests are done. */
const scratch = useScratchDirs();

test('cpio newc: busybox cpio lists what was written, with modes and symlinks', {
  skip: existsSync('/bin/busybox') ? false : '/bin/busybox is not installed',
}, () => {
  const archive = cpioArchive([
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/x', data: Buffer.from('hello\n'), mode: 0o755 },
    { type: 'symlink', path: 'bin/y', target: 'x' },
    { type: 'file', path: 'odd-size', data: Buffer.alloc(4097, 1) },
  ]);
  assert.equal(archive.length % 4, 0);
  assert.equal(archive.subarray(0, 6).toString(), '070701');
  const r = spawnSync('/bin/busybox', ['cpio', '-tv'], { input: archive, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^drwxr-xr-x .* bin$/m);
  assert.match(r.stdout, /^-rwxr-xr-x .* 6 .* bin\/x$/m);
  assert.match(r.stdout, /^lrwxrwxrwx .* bin\/y -> x$/m);
  assert.match(r.stdout, /^-rw-r--r-- .* 4097 .* odd-size$/m);
});

test("Debian version order is dpkg's (epochs, ~, revisions, numeric runs)", () => {
  const ordered = ['6.1.170-3', '6.1.176-1', '7.3~rc7-1~exp1', '7.3-1', '7.3-1+b1', '7.3.1-1', '1:0.1-1'];
  for (let i = 0; i + 1 < ordered.length; i++)
    assert.ok(
      compareDebianVersions(ordered[i] as string, ordered[i + 1] as string) < 0,
      `${ordered[i]} < ${ordered[i + 1]}`,
    );
  assert.equal(compareDebianVersions('6.12.107-1', '6.12.107-1'), 0);
  assert.ok(compareDebianVersions('6.12.94-1', '6.12.107-1') < 0);
  const dpkg = spawnSync('dpkg', ['--compare-versions', '7.3~rc7-1~exp1', 'lt', '7.3-1']);
  if (dpkg.status !== null && !dpkg.error) assert.equal(dpkg.status, 0, 'dpkg agrees');
});

test('package globs: * never crosses "-", so flavours (-cloud-, -rt-) do not match', () => {
  const re = new RegExp(`^${packageRegex('linux-binary-7.2.*-amd64')}$`);
  assert.ok(re.test('linux-binary-7.2.13+deb14-amd64'));
  assert.ok(!re.test('linux-binary-7.2.13+deb14-cloud-amd64'));
  assert.ok(!re.test('linux-binary-7.2.13+deb14-rt-amd64'));
  const old = new RegExp(`^${packageRegex('linux-image-6.1.0-*-amd64-unsigned')}$`);
  assert.ok(old.test('linux-image-6.1.0-50-amd64-unsigned'));
  assert.ok(!old.test('linux-image-6.1.0-50-amd64-unsigned-dbg'));
  assert.ok(new RegExp(`^${packageRegex('linux-binary-7.3*-amd64')}$`).test('linux-binary-7.3-amd64'));
});

test('fixtures/kernels.yaml: the default set is host + 6.1, 6.12, 7.2, 7.3-rc from bookworm, trixie, sid, experimental, whole suite', () => {
  const c = loadCandidates(DEFAULT_KERNELS_FILE);
  const set = kernelSet(c, 'default');
  assert.deepEqual(set.kernels, ['host', '6.1', '6.12', '7.2', '7.3-rc']);
  const suites = set.specs.map((s) => (s.kind === 'debian' ? s.suite : s.kind));
  assert.deepEqual(suites, ['host', 'bookworm', 'trixie', 'sid', 'experimental']);
  // issue #14: the default runs every case (no -t/-x selection in the set)
  assert.deepEqual([set.tests, set.exclude], [[], []], 'the default set runs the whole suite');
  assert.deepEqual(kernelSet(c, 'debian').kernels, ['6.1', '6.12', '7.2', '7.3-rc']);
});

const BAD_KERNELS: [string, string, RegExp][] = [
  [
    'an unknown key',
    'candidates:\n  - label: a\n    source: debian\n    suite: sid\n    package: linux-binary-7.2.*-amd64\n    colour: red\n',
    /k\.yaml:6:5: candidates\.0\.colour: Invalid key/,
  ],
  ['an unknown source', 'candidates:\n  - label: a\n    source: floppy\n', /k\.yaml:3:13: candidates\.0\.source: /],
  [
    'a label that cannot name a file',
    'candidates:\n  - label: "bad label"\n    source: host\n',
    /k\.yaml:2:12: candidates\.0\.label: a label is letters/,
  ],
  [
    'a duplicate label',
    'candidates:\n  - label: a\n    source: host\n  - label: a\n    source: host\n',
    /k\.yaml:4:12: candidates\.1\.label: "a" is already the label of candidate 0/,
  ],
  [
    'a set naming an unknown candidate',
    'candidates:\n  - label: a\n    source: host\nsets:\n  s:\n    kernels: [a, b]\n',
    /k\.yaml:6:18: sets\.s\.kernels\.1: no candidate is labelled "b"/,
  ],
  [
    'a package name that is not one',
    'candidates:\n  - label: a\n    source: debian\n    suite: sid\n    package: "Linux Image"\n',
    /k\.yaml:5:14: candidates\.0\.package: a package name/,
  ],
];

for (const [what, text, message] of BAD_KERNELS) {
  test(`kernels.yaml: ${what} is an error at its line and column`, () => {
    const dir = scratch('gmem-unit-');
    const file = join(dir, 'k.yaml');
    writeFileSync(file, text);
    assert.throws(
      () => loadCandidates(file),
      (e: Error) => e instanceof InputError && message.test(e.message),
    );
  });
}

test('a bad kernels file on the command line exits 2 with the position', () => {
  const dir = scratch('gmem-unit-');
  writeFileSync(join(dir, 'k.yaml'), 'candidates:\n  - label: a\n    source: host\n    extra: 1\n');
  const r = cli(['kernels', 'list', '--kernels', join(dir, 'k.yaml')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /k\.yaml:4:5: candidates\.0\.extra: Invalid key/);
});

test('kernel specs: labels, LABEL=VERSION, SUITE:PACKAGE[=VERSION], image paths', () => {
  const c = loadCandidates(DEFAULT_KERNELS_FILE);
  assert.deepEqual(parseKernelSpec('6.12', c), c.specs[2]);
  assert.equal(parseKernelSpec('host', c).kind, 'host');
  const pinned = parseKernelSpec('6.12=6.12.94-1', c);
  assert.ok(
    pinned.kind === 'debian' &&
      pinned.version === '6.12.94-1' &&
      pinned.suite === 'trixie' &&
      pinned.label === '6.12=6.12.94-1',
  );
  const deb = parseKernelSpec('sid:linux-binary-7.2.*-amd64=7.2.13-1', c);
  assert.deepEqual(deb, { kind: 'debian', suite: 'sid', package: 'linux-binary-7.2.*-amd64', version: '7.2.13-1' });
  const img = parseKernelSpec('/bin/sh:/tmp', c);
  assert.deepEqual(img, { kind: 'image', image: '/bin/sh', modules: '/tmp' });
  assert.throws(() => parseKernelSpec('/no/such/bzImage', c), /no kernel image at/);
  assert.throws(() => parseKernelSpec('host=1.0', c), /not a Debian package/);
  assert.throws(() => parseKernelSpec('floppy', c), /is not a candidate label/);
});

const r = (id: string, verdict: string) => ({ type: 'result', id, verdict, message: '' });

test('bisect verdicts: pass/fail/present/absent, and 125 when a kernel cannot tell', () => {
  assert.equal(judge([r('a', 'pass'), r('b', 'pass')], 'pass').code, 0);
  assert.equal(judge([r('a', 'pass'), r('b', 'fail')], 'pass').code, 1);
  assert.equal(judge([r('a', 'fail')], 'fail').code, 0);
  assert.equal(judge([r('a', 'skip')], 'pass').code, 125, 'feature absent: cannot test');
  assert.equal(judge([r('a', 'error')], 'pass').code, 125, 'the harness broke');
  assert.equal(judge([], 'pass').code, 125);
  assert.deepEqual([judge([r('a', 'skip')], 'present').code, judge([r('a', 'skip')], 'present').state], [1, 'absent']);
  assert.deepEqual([judge([r('a', 'pass')], 'present').code, judge([r('a', 'pass')], 'present').state], [0, 'present']);
  assert.equal(judge([r('a', 'fail')], 'present').code, 0, 'it ran: the feature is there');
  assert.equal(judge([r('a', 'skip')], 'absent').code, 0);
  assert.equal(judge([r('a', 'timeout')], 'absent').code, 125);
});

test('console scanning finds a panic, an oops and warnings, with an excerpt around the first', () => {
  const lines = Array.from({ length: 30 }, (_x, i) => `[ ${i}.0] line ${i}`);
  lines.splice(
    20,
    0,
    '[ 20.5] BUG: kernel NULL pointer dereference, address: 0000000000000000',
    '[ 20.6] Oops: 0000 [#1] SMP',
  );
  lines.push(
    '[ 31.0] WARNING: CPU: 0 PID: 1 at mm/x.c:1 f+0x1/0x2',
    '[ 32.0] Kernel panic - not syncing: Fatal exception',
  );
  const f = scanConsole(lines.join('\r\n'));
  assert.equal(f.panic, 'Kernel panic - not syncing: Fatal exception');
  assert.match(f.oops ?? '', /^BUG: kernel NULL pointer dereference/);
  assert.equal(f.warnings, 1);
  assert.ok(f.excerpt.startsWith('[ 10.0] line 10'), f.excerpt.split('\n')[0]);
  assert.ok(!f.excerpt.includes('\r'));
  assert.equal(scanConsole('').excerpt, '(the console log is empty)');
  assert.equal(scanConsole('a\nb\n').panic, null);
});

test('modules load after their dependencies; names use underscores', () => {
  const dep = new Map([
    ['kvm_amd', { path: 'kernel/arch/x86/kvm/kvm-amd.ko.xz', deps: ['ccp', 'kvm', 'irqbypass'] }],
    ['kvm', { path: 'kernel/arch/x86/kvm/kvm.ko.xz', deps: ['irqbypass'] }],
    ['irqbypass', { path: 'kernel/virt/lib/irqbypass.ko.xz', deps: [] }],
    ['ccp', { path: 'kernel/drivers/crypto/ccp/ccp.ko.xz', deps: [] }],
    ['9p', { path: 'kernel/fs/9p/9p.ko.zst', deps: ['9pnet', 'netfs'] }],
    ['9pnet', { path: 'kernel/net/9p/9pnet.ko.zst', deps: [] }],
    ['netfs', { path: 'kernel/fs/netfs/netfs.ko.zst', deps: [] }],
  ]);
  const order = loadOrder(dep, ['9p', 'kvm_amd', 'virtio_pci']);
  assert.deepEqual(order, ['9pnet', 'netfs', '9p', 'ccp', 'irqbypass', 'kvm', 'kvm_amd']);
  assert.equal(moduleName('/x/kvm-amd.ko.xz'), 'kvm_amd');
  assert.equal(moduleName('9pnet_virtio.ko'), '9pnet_virtio');
});

test('static ELF detection tells busybox-static from a dynamic binary', {
  skip: existsSync('/bin/busybox') ? false : '/bin/busybox is not installed',
}, () => {
  assert.equal(isStaticElf(process.execPath), false);
  assert.equal(isStaticElf('/bin/busybox'), true);
});

test('bzImage setup header gives the kernel release (cached Debian kernels)', (t) => {
  const root = '/var/cache/gmem-conformance/kernels';
  const images = existsSync(root)
    ? readdirSync(root).flatMap((d) => {
        const boot = join(root, d, 'boot');
        return existsSync(boot)
          ? readdirSync(boot)
              .filter((f) => f.startsWith('vmlinuz-'))
              .map((f) => join(boot, f))
          : [];
      })
    : [];
  if (images.length === 0) return t.skip('no Debian kernel in the cache yet (kernels fetch puts them there)');
  for (const img of images) assert.equal(imageRelease(img), img.split('vmlinuz-')[1]);
  assert.equal(imageRelease(process.execPath), null);
});

test('the multi-kernel exit status and summary table', () => {
  const done = { ...unavailableReport('a', ''), outcome: 'completed' as const, suiteExit: 0, release: '7.2' };
  assert.equal(overallStatus([done]), 0);
  assert.equal(overallStatus([done, { ...done, suiteExit: 4 }]), 0, 'all skipped is not a failure');
  assert.equal(overallStatus([done, { ...done, suiteExit: 1 }]), 1);
  assert.equal(overallStatus([done, { ...done, suiteExit: 1 }, unavailableReport('b', 'no network')]), 5);
  const table = summaryTable([done, unavailableReport('b', 'x')]);
  assert.match(table, /^label\s+kernel\s+outcome/);
  assert.match(table, /\nb\s+-\s+unavailable\s+0/);
});

test('kernels and bisect refuse bad usage before booting anything', () => {
  const a = cli(['kernels', 'run']);
  assert.equal(a.status, 2);
  assert.match(a.stderr, /kernels run needs -o DIR/);
  const b = cli(['kernels', 'boot', '6.1', '--', '-o', 'x.jsonl']);
  assert.equal(b.status, 2);
  assert.match(b.stderr, /sets -o and --platform of the run inside itself/);
  const c = cli(['bisect', 'run', '-t', 'gmem']);
  assert.equal(c.status, 255, 'git bisect run must stop, not read 2 as "bad"');
  assert.match(c.stderr, /needs --kernel IMAGE/);
  const d = cli(['bisect', 'list', '-t', 'no.such.case', '6.1', '6.12']);
  assert.equal(d.status, 2);
  assert.match(d.stderr, /no case matches -t no\.such\.case/);
  const e = cli(['kernels', 'frob']);
  assert.equal(e.status, 2);
});

test("the guest job starts the host's node by its path in the chroot, /tmp mapped to where the host's /tmp is", () => {
  assert.equal(
    guestPath('/var/cache/gmem-conformance/node/node-v24.22.3-linux-x64/bin/node'),
    '/var/cache/gmem-conformance/node/node-v24.22.3-linux-x64/bin/node',
  );
  assert.equal(
    guestPath('/tmp/cache/node/node-v24.22.3-linux-x64/bin/node'),
    '/run/host-tmp/cache/node/node-v24.22.3-linux-x64/bin/node',
  );
  assert.equal(guestPath('/tmpfoo/node'), '/tmpfoo/node');
  const job = jobScript({
    cwd: '/work/p',
    node: '/tmp/c/node/bin/node',
    nodeArgs: ['--jitless'],
    cli: '/work/p/dist/lib/cli/main.js',
    args: ['-t', 'gmem'],
    env: {},
  });
  assert.match(
    job,
    /^'\/run\/host-tmp\/c\/node\/bin\/node' '--jitless' '\/work\/p\/dist\/lib\/cli\/main\.js' '-t' 'gmem' > /m,
  );
});
