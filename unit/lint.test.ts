// `npm run lint` as a test: the tree is formatted as Biome formats it (biome.json, 120 columns) and tsc
// accepts it. The format half is skipped, saying why, when Biome is not installed (npm ci installs it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { PROJECT_ROOT } from '../lib/paths.js';

const BIOME = join(PROJECT_ROOT, 'node_modules', '.bin', 'biome');
const TSC = join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const noBiome = existsSync(BIOME) ? false : `${BIOME} is missing (npm ci installs it as a devDependency)`;

test('the tree is formatted (biome format, as npm run format writes it)', { skip: noBiome }, () => {
  const args = ['format', '--reporter=summary', '--max-diagnostics=20', '.'];
  const r = spawnSync(BIOME, args, { cwd: PROJECT_ROOT, encoding: 'utf8' });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(
    r.status,
    0,
    `biome format found unformatted files (npm run format fixes them):\n${r.stdout}${r.stderr}`,
  );
});

test('tsc --noEmit accepts the tree (the type half of npm run lint)', () => {
  const args = [TSC, '-p', 'tsconfig.json', '--noEmit', '--tsBuildInfoFile', join('dist', 'lint.tsbuildinfo')];
  const r = spawnSync(process.execPath, args, { cwd: PROJECT_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc --noEmit:\n${r.stdout}${r.stderr}`);
});

test('npm run lint is these two checks, npm run format the writer', () => {
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  assert.match(pkg.scripts.lint ?? '', /^biome format --reporter=summary \. && tsc -p tsconfig\.json --noEmit /);
  assert.equal(pkg.scripts.format, 'biome format --write .');
});
