// One cache-directory rule (issue 16 item 3): lib/cache-dir.sh for the shell scripts and lib/paths.ts for the
// TypeScript give the same directory in each branch of the rule, and nothing else spells the rule out.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

import { PROJECT_ROOT, SYSTEM_CACHE_DIR, resolveCacheDir } from '../lib/paths.js';

const HELPER = join(PROJECT_ROOT, 'lib', 'cache-dir.sh');

/** The environment without GMEM_CACHE_DIR, plus `extra`. */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('GMEM_CACHE_DIR' in extra)) delete env.GMEM_CACHE_DIR;
  return env;
}

/** What the shell helper prints, run as it is or under `prefix` (e.g. setpriv to another user). */
function shellRule(env: NodeJS.ProcessEnv, prefix: string[] = []): string {
  const [cmd, ...args] = [...prefix, 'bash', HELPER];
  const r = spawnSync(cmd as string, args, { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

/** Every file under dir (project-relative) whose name ends with ext. */
function files(dir: string, ext: string): string[] {
  return readdirSync(join(PROJECT_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => relative(PROJECT_ROOT, join(e.parentPath, e.name)));
}

describe('the cache directory rule', () => {
  it('GMEM_CACHE_DIR wins in both', () => {
    const env = envWith({ GMEM_CACHE_DIR: '/tmp/gmem-cache-rule-test' });
    assert.equal(shellRule(env), '/tmp/gmem-cache-rule-test');
    assert.equal(resolveCacheDir(env), '/tmp/gmem-cache-rule-test');
  });

  it('without it, both take the same directory (the system one when writable)', () => {
    const env = envWith();
    assert.equal(shellRule(env), resolveCacheDir(env));
    if (process.getuid?.() === 0) assert.equal(resolveCacheDir(env), SYSTEM_CACHE_DIR);
  });

  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
  const asNobody =
    process.getuid?.() !== 0
      ? 'needs root to run the rule as another user'
      : !setpriv
        ? 'needs setpriv (util-linux)'
        : false;
  it('where the system directory is not writable, both fall back to <project>/.cache', { skip: asNobody }, () => {
    const prefix = [setpriv as string, '--reuid=65534', '--regid=65534', '--clear-groups'];
    const env = envWith();
    const script = `import(${JSON.stringify(join(PROJECT_ROOT, 'dist', 'lib', 'paths.js'))}).then((m) => console.log(m.resolveCacheDir()))`;
    const r = spawnSync(prefix[0] as string, [...prefix.slice(1), process.execPath, '-e', script], {
      env,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), join(PROJECT_ROOT, '.cache'));
    assert.equal(shellRule(env, prefix), join(PROJECT_ROOT, '.cache'));
  });

  it('no other script or module spells the rule out', () => {
    const shell = ['ci', 'lib', 'bench'].flatMap((d) => files(d, '.sh')).filter((f) => f !== 'lib/cache-dir.sh');
    const own = shell.filter((f) =>
      /GMEM_CACHE_DIR:-|\/var\/cache\/gmem-conformance/.test(
        readFileSync(join(PROJECT_ROOT, f), 'utf8')
          .split('\n')
          .filter((l) => !l.trimStart().startsWith('#'))
          .join('\n'),
      ),
    );
    assert.deepEqual(own, [], 'shell scripts with their own cache rule (source lib/cache-dir.sh instead)');
    const ts = ['lib', 'bench', 'tests'].flatMap((d) => files(d, '.ts')).filter((f) => f !== 'lib/paths.ts');
    const tsOwn = ts.filter((f) =>
      /GMEM_CACHE_DIR|'\/var\/cache\/gmem-conformance'/.test(
        readFileSync(join(PROJECT_ROOT, f), 'utf8')
          .split('\n')
          .filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l))
          .join('\n'),
      ),
    );
    assert.deepEqual(tsOwn, [], 'modules with their own cache rule (use cacheDir() from lib/paths.ts)');
  });
});
