// The layering rule of issue 16: nothing below lib/cli imports lib/cli, and lib/kvm and lib/uapi do not import
// the harness. Checked on the TypeScript sources, by the import specifiers each file resolves.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

import { PROJECT_ROOT } from '../lib/paths.js';

/** Every .ts file under dir, as paths relative to the project root. */
function sources(dir: string): string[] {
  return readdirSync(join(PROJECT_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(PROJECT_ROOT, join(e.parentPath, e.name)));
}

/** The project-relative modules a file imports (relative specifiers only). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
  return [...text.matchAll(/(?:from|import)\s+'(\.[^']+)'/g)].map((m) =>
    relative(PROJECT_ROOT, resolve(dirname(join(PROJECT_ROOT, file)), m[1] as string)),
  );
}

/** Files under `from` that import something under one of `forbidden`, as "file -> module". */
function violations(from: string, forbidden: string[], except: string[] = []): string[] {
  return sources(from)
    .filter((f) => !except.some((e) => f.startsWith(e)))
    .flatMap((f) =>
      importsOf(f)
        .filter((m) => forbidden.some((d) => m.startsWith(d)))
        .map((m) => `${f} -> ${m}`),
    );
}

describe('layering', () => {
  it('nothing below lib/cli imports lib/cli', () => {
    assert.deepEqual(violations('lib', ['lib/cli/'], ['lib/cli/']), []);
  });
  it('lib/uapi, lib/ffi, lib/sys and lib/kvm import no harness, cases, report or features', () => {
    const upper = ['lib/harness/', 'lib/cases/', 'lib/report/', 'lib/features/', 'lib/cli/'];
    for (const dir of ['lib/uapi', 'lib/ffi', 'lib/sys', 'lib/kvm']) assert.deepEqual(violations(dir, upper), [], dir);
  });
});
