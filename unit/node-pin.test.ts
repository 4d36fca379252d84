/**
 * The pinned Node.js (ci/node.pin): every place that names the version agrees with it, and ci/node.sh
 * picks, fetches, verifies and caches the right binary. The fetch runs offline here: a fake npm on PATH
 * "packs" a tarball made in the test, and a copy of ci/node.sh gets a pin carrying that tarball's
 * integrity (the real registry fetch is what ci/bootstrap.sh and unit/fresh-machine.test.ts exercise).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ROOT, useScratchDirs } from './helpers.js';

const scratch = useScratchDirs();
const pin = readFileSync(join(ROOT, 'ci', 'node.pin'), 'utf8');
const field = (k: string) => new RegExp(`^${k} (\\S+)$`, 'm').exec(pin)?.[1];
const version = field('version') as string;
const major = version.split('.')[0] as string;
const arch = process.arch === 'arm64' ? 'arm64' : 'x64';

test('ci/node.pin names an LTS release with an npm integrity for linux-x64 and linux-arm64', () => {
  assert.match(version, /^\d+\.\d+\.\d+$/);
  assert.equal(Number(major) % 2, 0, 'only even major lines become LTS');
  for (const a of ['linux-x64', 'linux-arm64'])
    assert.match(field(a) ?? '', /^sha512-[A-Za-z0-9+/]{86}==$/, `${a} integrity`);
});

test('engines, @types/node, the workflows, the GitLab image and the kselftest wrapper follow the pin', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    engines: { node: string };
    devDependencies: Record<string, string>;
  };
  assert.equal(pkg.engines.node, `>=${major}`);
  assert.match(pkg.devDependencies['@types/node'] ?? '', new RegExp(`^\\^${major}\\.`));
  const gh = readFileSync(join(ROOT, '.github', 'workflows', 'candidate-kernels.yml'), 'utf8');
  const versions = [...gh.matchAll(/node-version: (\S+)/g)].map((m) => m[1]);
  assert.ok(versions.length > 0);
  for (const v of versions)
    assert.equal(v, version, 'setup-node installs the pinned release, which bootstrap then uses');
  assert.match(readFileSync(join(ROOT, '.gitlab-ci.yml'), 'utf8'), new RegExp(`image: node:${major}-bookworm`));
  assert.match(
    readFileSync(join(ROOT, 'ci', 'kselftest', 'run_gmem_conformance.sh'), 'utf8'),
    new RegExp(`^min=${major}$`, 'm'),
  );
  assert.equal(
    process.versions.node.split('.')[0],
    major,
    "the tests themselves run on the pinned line (test.sh runs them on bootstrap's node)",
  );
});

/** What ci/node.sh runs besides node and npm (coreutils, tar, gzip, awk, flock). */
const TOOLS = [
  'bash',
  'sh',
  'awk',
  'sort',
  'head',
  'tail',
  'cat',
  'cp',
  'mkdir',
  'mktemp',
  'flock',
  'rm',
  'mv',
  'tar',
  'gzip',
  'sha512sum',
  'cut',
  'base64',
  'od',
  'tr',
  'dirname',
  'readlink',
  'uname',
  'id',
  'echo',
];

/** A project skeleton holding a copy of ci/node.sh, a pin, and a bin/ with a fake npm and (optionally) a fake system node. */
function sandbox(o: { systemNode?: string; tarball?: Buffer; integrity?: string } = {}) {
  const dir = scratch('gmem-node-pin-');
  mkdirSync(join(dir, 'ci'));
  copyFileSync(join(ROOT, 'ci', 'node.sh'), join(dir, 'ci', 'node.sh'));
  mkdirSync(join(dir, 'lib'));
  copyFileSync(join(ROOT, 'lib', 'cache-dir.sh'), join(dir, 'lib', 'cache-dir.sh'));
  const integrity =
    o.integrity ??
    (o.tarball
      ? `sha512-${createHash('sha512').update(o.tarball).digest('base64')}`
      : (field(`linux-${arch}`) as string));
  writeFileSync(join(dir, 'ci', 'node.pin'), `version ${version}\nlinux-x64 ${integrity}\nlinux-arm64 ${integrity}\n`);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  if (o.tarball) writeFileSync(join(dir, 'release.tgz'), o.tarball);
  // npm pack SPEC --pack-destination DIR …: copies the prepared tarball and prints its name, as npm does
  writeFileSync(
    join(bin, 'npm'),
    `#!/bin/sh\necho "$@" >> "${dir}/npm.log"\nwhile [ $# -gt 0 ]; do [ "$1" = --pack-destination ] && dest=$2; shift; done\ncp "${dir}/release.tgz" "$dest/node-linux-${arch}-${version}.tgz"\necho node-linux-${arch}-${version}.tgz\n`,
  );
  chmodSync(join(bin, 'npm'), 0o755);
  if (o.systemNode) {
    writeFileSync(join(bin, 'node'), `#!/bin/sh\necho ${o.systemNode}\n`);
    chmodSync(join(bin, 'node'), 0o755);
  }
  const tools = join(dir, 'tools');
  mkdirSync(tools);
  for (const t of TOOLS) {
    const where = spawnSync('bash', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
    if (where) symlinkSync(where, join(tools, t));
  }
  const cache = join(dir, 'cache');
  const run = (env: Record<string, string> = {}) => {
    // PATH without the machine's own node: bin/ first, then only the tools node.sh uses
    const r = spawnSync('bash', [join(dir, 'ci', 'node.sh')], {
      encoding: 'utf8',
      env: { PATH: `${bin}:${tools}`, GMEM_CACHE_DIR: cache, HOME: dir, ...env },
    });
    return { status: r.status, out: r.stdout.trim(), err: r.stderr };
  };
  return {
    dir,
    bin,
    cache,
    run,
    npmCalls: () => (existsSync(join(dir, 'npm.log')) ? readFileSync(join(dir, 'npm.log'), 'utf8') : ''),
  };
}

/** A node-linux-* tarball whose package/bin/node is a script answering `-p process.versions.node` with v. */
function fakeRelease(v: string): Buffer {
  const dir = scratch('gmem-node-release-');
  mkdirSync(join(dir, 'package', 'bin'), { recursive: true });
  writeFileSync(join(dir, 'package', 'bin', 'node'), `#!/bin/sh\necho ${v}\n`);
  chmodSync(join(dir, 'package', 'bin', 'node'), 0o755);
  const r = spawnSync('tar', ['-czf', '-', '-C', dir, 'package'], { maxBuffer: 1 << 20 });
  assert.equal(r.status, 0);
  return r.stdout;
}

test('node.sh fetches the pinned release with npm, checks its integrity, caches it and uses the cache after', () => {
  const s = sandbox({ tarball: fakeRelease(version) });
  const first = s.run();
  assert.equal(first.status, 0, first.err);
  const expected = join(s.cache, 'node', `node-v${version}-linux-${arch}`, 'bin', 'node');
  assert.equal(first.out, expected, 'stdout is the path and nothing else');
  assert.match(s.npmCalls(), new RegExp(`^pack node-linux-${arch}@${version} --pack-destination `, 'm'));
  assert.match(first.err, /fetching Node\.js/);
  const again = s.run();
  assert.equal(again.out, expected);
  assert.equal(s.npmCalls().split('\n').filter(Boolean).length, 1, 'the second call is served by the cache');
  assert.deepEqual(
    readdirSync(join(s.cache, 'node')).filter((f) => f.startsWith('.fetch')),
    [],
    'no temporary directory left',
  );
});

test('a tarball that does not match the pinned integrity is refused and nothing is cached', () => {
  const s = sandbox({
    tarball: fakeRelease(version),
    integrity: `sha512-${createHash('sha512').update('something else').digest('base64')}`,
  });
  const r = s.run();
  assert.equal(r.status, 2);
  assert.match(r.err, /does not match the integrity pinned in ci\/node\.pin/);
  assert.equal(existsSync(join(s.cache, 'node', `node-v${version}-linux-${arch}`)), false);
});

test('a tarball whose node reports another version is refused', () => {
  const s = sandbox({ tarball: fakeRelease('1.2.3') });
  const r = s.run();
  assert.equal(r.status, 2);
  assert.match(r.err, /does not run as v/);
});

test('GMEM_NODE: the system node when at least the pin, else the pinned; pinned, system and a path on request', () => {
  const [maj, min, pat] = version.split('.').map(Number) as [number, number, number];
  const newer = `${maj}.${min}.${pat + 1}`;
  const older = `${maj - 2}.0.0`;
  const tarball = fakeRelease(version);
  const cached = (s: ReturnType<typeof sandbox>) =>
    join(s.cache, 'node', `node-v${version}-linux-${arch}`, 'bin', 'node');

  const withNewer = sandbox({ systemNode: newer, tarball });
  assert.equal(withNewer.run().out, join(withNewer.bin, 'node'), 'a newer system node is used as it is');
  assert.equal(withNewer.npmCalls(), '', 'nothing fetched');
  assert.equal(withNewer.run({ GMEM_NODE: 'pinned' }).out, cached(withNewer), 'pinned fetches even so');

  const withOlder = sandbox({ systemNode: older, tarball });
  assert.equal(withOlder.run().out, cached(withOlder), 'an older system node is not used');
  const refused = withOlder.run({ GMEM_NODE: 'system' });
  assert.equal(refused.status, 2);
  assert.match(
    refused.err,
    new RegExp(`GMEM_NODE=system: .* is v${older.replace(/\./g, '\\.')}; gmem-conformance needs Node\\.js >= ${major}`),
  );

  const sameLine = sandbox({ systemNode: `${maj}.0.0`, tarball });
  assert.equal(
    sameLine.run({ GMEM_NODE: 'system' }).out,
    join(sameLine.bin, 'node'),
    'system accepts any release of the pinned major line',
  );
  assert.equal(
    sameLine.run({ GMEM_NODE: join(sameLine.bin, 'node') }).out,
    join(sameLine.bin, 'node'),
    'a path is taken as it is',
  );

  const none = sandbox({ tarball });
  const noSystem = none.run({ GMEM_NODE: 'system' });
  assert.equal(noSystem.status, 2);
  assert.match(noSystem.err, /no node on PATH/);
  const bogus = none.run({ GMEM_NODE: 'latest' });
  assert.equal(bogus.status, 2);
  assert.match(bogus.err, /GMEM_NODE must be auto, pinned, system or a path/);
});
