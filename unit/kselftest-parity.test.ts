/**
 * The kselftest parity table (fixtures/kselftest-parity.yaml) against the suite's cases, the selftest C sources in
 * Debian's linux-source-7.2 and -7.3 debs (when they are in the cache), and the README's totals section.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.js';
import { loadInstances } from '../lib/harness/registry.js';
import {
  entryCases,
  loadParity,
  parityMarkdown,
  selftestFunctions,
  selftestTagValues,
  shapeProblems,
  type ParityTable,
} from '../lib/fixtures/kselftest-parity.js';
import { cacheDir } from '../lib/paths.js';

const TABLE = join(ROOT, 'fixtures', 'kselftest-parity.yaml');
const table: ParityTable = loadParity(TABLE);

test('every entry has the shape its file needs (cases, modes, via, out_of_scope)', () => {
  const problems = Object.entries(table.files).flatMap(([k, f]) => shapeProblems(k, f));
  assert.deepEqual(problems, []);
});

test('every case the table names exists, and every function is covered by an existing case', async () => {
  const instances = await loadInstances();
  const ids = new Set<string>();
  for (const i of instances) {
    ids.add(i.id);
    ids.add(i.def.id);
  }
  const missing: string[] = [];
  for (const [file, f] of Object.entries(table.files))
    for (const [fn, e] of Object.entries(f.functions))
      for (const c of entryCases(e))
        if (!ids.has(c)) missing.push(`${file}:${fn} names ${c}, which is not a case or instance id`);
  assert.deepEqual(missing, []);
});

test('tags.selftest names only table functions, and each such function lists the case', async () => {
  const instances = await loadInstances();
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const inst of instances) {
    if (seen.has(inst.def.id)) continue;
    seen.add(inst.def.id);
    for (const value of selftestTagValues(inst.def.tags?.selftest)) {
      const m = /^(.+\.c):([A-Za-z_]\w*)$/.exec(value);
      const file = m ? table.files[m[1] as string] : undefined;
      const entry = m && file ? file.functions[m[2] as string] : undefined;
      if (!m || !file || !entry) {
        problems.push(`${inst.def.id}: tags.selftest "${value}" is not <file>:<function> of the parity table`);
        continue;
      }
      const named = entryCases(entry);
      const own = instances.filter((i) => i.def.id === inst.def.id).map((i) => i.id);
      if (!named.includes(inst.def.id) && !own.some((id) => named.includes(id)))
        problems.push(`${inst.def.id}: tags.selftest "${value}" but the table's entry for it does not list the case`);
    }
  }
  assert.deepEqual(problems, []);
});

/** The linux-source debs in the cache (7.2 and 7.3), or why they cannot be used. */
function cachedDebs(): { debs: string[] } | { skip: string } {
  const dir = join(cacheDir(), 'debs');
  const files = existsSync(dir) ? readdirSync(dir) : [];
  const debs: string[] = [];
  for (const want of table.sources) {
    // The version the table was taken from, else any other version of the package (a newer one may add functions).
    const name =
      files.find((n) => n === `${want.package}_${want.version}_all.deb`) ??
      files
        .filter((n) => n.startsWith(`${want.package}_`) && n.endsWith('_all.deb'))
        .sort()
        .pop();
    if (!name)
      return {
        skip: `no ${want.package}_*_all.deb in ${dir} (the table is from ${want.version}; fetch it with lib/debian/apt-download.sh)`,
      };
    debs.push(join(dir, name));
  }
  return { debs };
}

/** The selftest C files of the table, unpacked from a deb into the cache once (nothing of it is committed). */
function unpackSelftests(deb: string): string {
  const dest = join(cacheDir(), 'kselftest-parity', deb.replace(/^.*\//, '').replace(/\.deb$/, ''));
  const paths = Object.values(table.files).map((f) => f.path);
  if (paths.every((p) => existsSync(join(dest, p)))) return dest;
  const script = [
    'set -euo pipefail',
    'tmp=$(mktemp -d)',
    'trap \'rm -rf "$tmp"\' EXIT',
    'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$tmp" --wildcards "./usr/src/linux-source-*.tar.*"',
    'tarball=$(ls "$tmp"/usr/src/linux-source-*.tar.* | head -n1)',
    'top=$(basename "$tarball"); top=${top%%.tar.*}',
    'mkdir -p "$tmp/out"',
    'shift',
    'tar -x -f "$tarball" -C "$tmp/out" --strip-components=1 "${@/#/$top/}"',
    `rm -rf "${dest}"`,
    `mkdir -p "$(dirname "${dest}")"`,
    `mv "$tmp/out" "${dest}"`,
  ].join('\n');
  const r = spawnSync('bash', ['-c', script, 'unpack', deb, ...paths], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `unpacking ${deb}: ${r.stderr}`);
  return dest;
}

test('the table lists exactly the test functions of the 7.2 and 7.3 selftest sources', { timeout: 900_000 }, (t) => {
  const found = cachedDebs();
  if ('skip' in found) {
    t.skip(`cannot check the function list against the sources: ${found.skip}`);
    return;
  }
  for (const deb of found.debs) {
    const root = unpackSelftests(deb);
    for (const [key, f] of Object.entries(table.files)) {
      const fns = selftestFunctions(readFileSync(join(root, f.path), 'utf8'));
      assert.deepEqual(
        [...Object.keys(f.functions)].sort(),
        [...fns].sort(),
        `${key} in ${deb}: table functions vs source functions`,
      );
    }
  }
});

test('selftestFunctions: file-scope test_/__test_/guest_test_ definitions, main when there are none, comments ignored', () => {
  const src = [
    'static void test_a(int fd,',
    '\t\t   size_t n)',
    '{',
    '}',
    '/* static void test_commented(void) { } */',
    'static void helper(void) { test_a(1, 2); }',
    'static void __test_b(void)',
    '{ }',
    'void guest_test_c(u64 x) {}',
    'static void test_decl(void);',
    'int main(int argc, char **argv)',
    '{ test_a(0, 0); }',
  ].join('\n');
  assert.deepEqual(selftestFunctions(src), ['test_a', '__test_b', 'guest_test_c']);
  assert.deepEqual(
    selftestFunctions('static int helper(void) { return 0; }\nint main(int argc, char **argv)\n{\n}\n'),
    ['main'],
  );
});

test('the README shows the table totals exactly as the table gives them', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const begin =
    '<!-- kselftest-parity totals: generated from fixtures/kselftest-parity.yaml, checked by unit/kselftest-parity.test.ts -->';
  const end = '<!-- end kselftest-parity totals -->';
  const a = readme.indexOf(begin);
  const b = readme.indexOf(end);
  assert.ok(a >= 0 && b > a, 'README.md has no kselftest-parity totals section');
  assert.equal(
    readme.slice(a + begin.length, b).trim(),
    parityMarkdown(table),
    'README totals are stale: paste parityMarkdown(loadParity(...)) between the markers',
  );
});

test('shapeProblems: an entry without cases, a missing mode, and out_of_scope outside a scoped file are reported', () => {
  const problems = shapeProblems('x.c', {
    path: 'tools/testing/selftests/x.c',
    functions: { test_a: {}, test_b: { out_of_scope: 'not ours' }, test_c: { via: ['test_z'] } },
  });
  assert.deepEqual(problems, [
    'x.c:test_a: no covering case (cases: or via:)',
    'x.c:test_b: out_of_scope is only allowed in a file with a scope',
    "x.c:test_c: via names test_z, which is not in this file's table",
  ]);
  assert.deepEqual(
    shapeProblems('m.c', {
      path: 'tools/testing/selftests/m.c',
      modes: ['shmem', 'hugetlbfs'],
      functions: { test_a: { shmem: ['a.b'] } },
    }),
    ['m.c:test_a: no case for mode hugetlbfs'],
  );
});
