// The README's numbers and option table are checked, not trusted (issue 16 item 6): the case counts of
// "The cases" against `run -l --json`, and the option table of "Command line" against `run --help`.
// When a case is added, the failure message gives the numbers to write.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';

import { cli, ROOT } from './helpers.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The text of one `## ` section of the README. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has no section "${title}"`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** Rows of the first Markdown table in text, as arrays of cells (header and separator dropped). */
function tableRows(text: string): string[][] {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const end = lines.findIndex((l, i) => i > first && !l.startsWith('|'));
  return lines.slice(first + 2, end < 0 ? undefined : end).map((l) =>
    l
      .slice(1, -1)
      .split(' | ')
      .map((c) => c.trim()),
  );
}

/** Whether an instance of `family` is selected by a README selector (`gmem.create`, `attr.*`). */
function selects(selector: string, family: string): boolean {
  if (selector.endsWith('.*')) return family.startsWith(selector.slice(0, -1));
  return family === selector || family.startsWith(`${selector}.`);
}

describe('README: The cases', () => {
  let families: string[] = [];
  before(() => {
    const r = cli(['run', '-l', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const listing = JSON.parse(r.stdout) as { count: number; cases: { family: string }[] };
    assert.equal(listing.cases.length, listing.count);
    families = listing.cases.map((c) => c.family);
  });
  const text = section('The cases');

  it("the instance and family counts are the listing's", () => {
    const m = /^(\d+) case instances in (\d+) families/m.exec(text);
    assert.ok(m, 'README: "N case instances in M families" not found');
    const want = `${families.length} case instances in ${new Set(families).size} families`;
    assert.equal(m[0], want, `README "The cases" says "${m[0]}"; the listing has ${want}`);
  });

  it("each row of the family table gives its families' instance counts", () => {
    const wrong: string[] = [];
    let covered = 0;
    for (const [what, counts] of tableRows(text)) {
      const selectors = [...(what ?? '').replace(/\(.*?\)/g, '').matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
      const given = (counts ?? '').split('+').map((n) => Number(n.trim()));
      assert.equal(
        selectors.length,
        given.length,
        `row "${what}": ${selectors.length} families, ${given.length} counts`,
      );
      const actual = selectors.map((sel) => families.filter((f) => selects(sel, f)).length);
      covered += actual.reduce((a, b) => a + b, 0);
      if (actual.join(' + ') !== given.join(' + '))
        wrong.push(`${what}: README ${given.join(' + ')}, listing ${actual.join(' + ')}`);
    }
    assert.deepEqual(wrong, [], 'rows whose counts differ from the listing');
    assert.equal(covered, families.length, "the table's rows cover every instance exactly once");
  });

  it('the host totals add up to the instance count', () => {
    const m = /gives (\d+) pass, (\d+) xfail[\s\S]*?, (\d+) skip/.exec(text);
    assert.ok(m, 'README: "a full run gives N pass, N xfail, N skip" not found');
    const sum = Number(m[1]) + Number(m[2]) + Number(m[3]);
    assert.equal(
      sum,
      families.length,
      `${m[1]} + ${m[2]} + ${m[3]} = ${sum}, but there are ${families.length} instances`,
    );
  });
});

describe('README: the options of run', () => {
  it('the option table lists exactly the options of run --help', () => {
    const help = cli(['run', '--help']);
    assert.equal(help.status, 0, help.stderr);
    // `-j, --jobs N` in both: the short form, the long form and the argument's name
    const fromHelp = [...help.stdout.matchAll(/^ {2}((?:-\w, )?|\s*)(--[\w-]+(?: [A-Z]+)?)/gm)].map((m) =>
      `${m[1]?.trim() ?? ''} ${m[2]}`.trim(),
    );
    const table = tableRows(README.slice(README.indexOf('| option | meaning |')));
    const fromReadme = table.flatMap(([opt]) => [...(opt ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] as string));
    assert.ok(fromReadme.length > 10, 'README: the option table of run was not found');
    assert.deepEqual([...fromReadme].sort(), [...fromHelp].sort());
  });
});
