/**
 * The "Kernel checks:" lists in case file headers: every numbered check names the instance (or case) that sees the
 * kernel refuse and the one that sees it accept, or says why a side cannot exist, and every id named is a real one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './helpers.js';
import { loadInstances } from '../lib/harness/registry.js';

/** One numbered check of a list, where it was written and the two sides it names. */
interface BoundaryItem {
  /** file:line of the item. */ where: string;
  /** The check as written. */ check: string;
  /** The refused and accepted sides: an id, or "n/a (reason)". */ sides: { refused: string; accepted: string };
}

const HEADER = /^\s*\*\s*Kernel checks: \S/;
const ITEM = /^\s*\*\s+\d+\.\s+(.+?)\s+\|\s*refused:\s*(.+?)\s+\|\s*accepted:\s*(.+?)\s*$/;
const NUMBERED = /^\s*\*\s+\d+\.\s/;
const NOT_APPLICABLE = /^n\/a \(.+\)$/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return name.endsWith('.ts') ? [p] : [];
  });
}

/** Every boundary item of every case file, and the numbered lines under a header that do not parse as one. */
function boundaryItems(): { items: BoundaryItem[]; malformed: string[]; emptyHeaders: string[] } {
  const items: BoundaryItem[] = [];
  const malformed: string[] = [];
  const emptyHeaders: string[] = [];
  for (const file of sourceFiles(join(ROOT, 'tests'))) {
    const lines = readFileSync(file, 'utf8').split('\n');
    let open: { where: string; count: number } | null = null;
    const close = () => { if (open && open.count === 0) emptyHeaders.push(open.where); open = null; };
    lines.forEach((line, i) => {
      const where = `${relative(ROOT, file)}:${i + 1}`;
      if (HEADER.test(line)) { close(); open = { where, count: 0 }; return; }
      if (!open) return;
      if (!/^\s*\*/.test(line) || /\*\//.test(line)) { close(); return; }
      if (!NUMBERED.test(line)) return;
      const m = ITEM.exec(line);
      if (!m) { malformed.push(`${where}: ${line.trim()}`); return; }
      (open as { count: number }).count++;
      items.push({ where, check: m[1] as string, sides: { refused: m[2] as string, accepted: m[3] as string } });
    });
    close();
  }
  return { items, malformed, emptyHeaders };
}

test('every numbered line under a "Kernel checks:" header is "check | refused: X | accepted: Y"', () => {
  const { malformed, emptyHeaders } = boundaryItems();
  assert.deepEqual(malformed, [], 'numbered lines that do not parse as a boundary item');
  assert.deepEqual(emptyHeaders, [], '"Kernel checks:" headers with no numbered item under them');
});

test('every side of a boundary item names an existing instance or case id, or n/a with a reason', async () => {
  const instances = await loadInstances();
  const known = new Set(instances.flatMap((i) => [i.id, i.def.id]));
  const { items } = boundaryItems();
  assert.ok(items.length > 0, 'no boundary items found under tests/');
  const bad: string[] = [];
  for (const it of items) {
    for (const [side, value] of Object.entries(it.sides)) {
      if (NOT_APPLICABLE.test(value)) continue;
      const id = value.split(/\s+/)[0] as string;
      if (!known.has(id)) bad.push(`${it.where}: ${side} side "${value}" is neither an instance/case id nor "n/a (reason)"`);
    }
  }
  assert.deepEqual(bad, []);
});
