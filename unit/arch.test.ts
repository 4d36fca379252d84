// One architecture mapping and one page size (issue 16 item 3): lib/arch.ts is the only place that turns
// Node.js's arch names into the kernel's or spells the page size.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

import { PAGE_SIZE, kernelArch } from '../lib/arch.js';
import { PAGE } from '../lib/cases/gmem.js';
import { PROJECT_ROOT } from '../lib/paths.js';

/** The TypeScript sources under lib/, bench/ and tests/ with their comment lines dropped. */
function sources(): [string, string][] {
  return ['lib', 'bench', 'tests'].flatMap((dir) =>
    readdirSync(join(PROJECT_ROOT, dir), { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e): [string, string] => {
        const file = relative(PROJECT_ROOT, join(e.parentPath, e.name));
        const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
        return [
          file,
          text
            .split('\n')
            .filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l))
            .join('\n'),
        ];
      }),
  );
}

test('kernelArch gives uname -m names', () => {
  assert.equal(kernelArch('x64'), 'x86_64');
  assert.equal(kernelArch('arm64'), 'aarch64');
  assert.equal(kernelArch('riscv64'), 'riscv64');
});

test('no module other than lib/arch.ts maps arch names', () => {
  const own = sources().filter(([f, t]) => f !== 'lib/arch.ts' && /(process\.arch|\.arch) === '(x64|arm64)'/.test(t));
  assert.deepEqual(
    own.map(([f]) => f),
    [],
  );
});

test('one page size: PAGE is PAGE_SIZE, and no module defines its own 4096', () => {
  assert.equal(PAGE, BigInt(PAGE_SIZE));
  const own = sources().filter(([f, t]) => f !== 'lib/arch.ts' && /const PAGE\w* = 4096/.test(t));
  assert.deepEqual(
    own.map(([f]) => f),
    [],
  );
});
