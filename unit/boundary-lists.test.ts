/**
 * The "Kernel checks:" lists in the header comments of tests/**\/*.ts (issue #12 item 2): every numbered check names
 * the cases on both of its sides, and every case it names exists in the registry.
 *
 * Format, inside a file's first comment block:
 *    * Kernel checks: KVM_CREATE_GUEST_MEMFD (virt/kvm/guest_memfd.c kvm_gmem_create; read in 6.18, 7.2, 7.3)
 *    *   (the title may continue on further lines, indented or not, until it ends with its closing parenthesis)
 *    *   1. size <= 0 or !PAGE_ALIGNED(size) → EINVAL | refused: gmem.create.size_zero | accepted: gmem.create.one_page
 *    *      (an item may continue on further lines indented past its number)
 * A side lists case ids (`id` for every variant, `id@variant` for one), separated by commas, or is
 * `n/a (<reason>)` when that side cannot exist or cannot be produced here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './helpers.js';
import { loadInstances } from '../lib/harness/registry.js';

interface CheckItem {
  /** file:line of the item's first line. */ where: string;
  /** Number written before the item. */ number: number;
  /** The item's text, continuation lines joined by one space. */ text: string;
}

interface CheckBlock {
  /** file:line of the "Kernel checks:" line. */ where: string;
  /** Text after "Kernel checks:". */ title: string;
  /** The numbered items. */ items: CheckItem[];
}

/** Every .ts file under dir, recursively. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The "Kernel checks:" blocks of a file's first comment block. */
function checkBlocks(path: string): CheckBlock[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const rel = relative(ROOT, path);
  const start = lines.findIndex((l) => l.trimStart().startsWith('/*'));
  if (start < 0) return [];
  const blocks: CheckBlock[] = [];
  let block: CheckBlock | undefined;
  let item: CheckItem | undefined;
  let itemIndent = 0;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i] as string;
    const end = line.includes('*/');
    const body = /^\s*\/?\*+\s?(.*?)(\*\/)?\s*$/.exec(line)?.[1] ?? '';
    const head = /^Kernel checks:\s*(.*)$/.exec(body.trim());
    const numbered = /^(\s*)(\d+)\.\s+(.*)$/.exec(body);
    if (head) {
      block = { where: `${rel}:${i + 1}`, title: head[1] as string, items: [] };
      blocks.push(block);
      item = undefined;
    } else if (block && numbered) {
      item = { where: `${rel}:${i + 1}`, number: Number(numbered[2]), text: (numbered[3] as string).trim() };
      itemIndent = (numbered[1] as string).length;
      block.items.push(item);
    } else if (block && item && body.trim() !== '' && /^\s*/.exec(body)![0].length > itemIndent) {
      item.text += ` ${body.trim()}`;
    } else if (
      block &&
      block.items.length === 0 &&
      body.trim() !== '' &&
      (/^\s+\S/.test(body) || !block.title.endsWith(')'))
    ) {
      block.title += ` ${body.trim()}`;
    } else {
      item = undefined;
      if (body.trim() === '' || !/^\s/.test(body)) block = undefined;
    }
    if (end) break;
  }
  return blocks;
}

/** The ids one side names, or the n/a reason; a string error when the side is malformed. */
function sideIds(side: string): { ids: string[] } | { na: string } | string {
  const s = side.trim();
  if (s.startsWith('n/a')) {
    const m = /^n\/a \((.+)\)$/.exec(s);
    return m ? { na: m[1] as string } : `"${s}" is not "n/a (<reason>)"`;
  }
  const ids = s.split(',').map((x) => x.trim());
  const bad = ids.filter((x) => !/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+(@[A-Za-z0-9_.+-]+)?$/.test(x));
  if (ids.length === 0 || bad.length) return `"${s}" is not a comma-separated list of case ids (bad: ${bad.join(' ')})`;
  return { ids };
}

const TESTS = join(ROOT, 'tests');
const blocks = tsFiles(TESTS).flatMap(checkBlocks);

test('the case tree has "Kernel checks:" lists, each naming its source and the versions read', () => {
  assert.ok(blocks.length > 0, 'no "Kernel checks:" block under tests/');
  const problems: string[] = [];
  for (const b of blocks) {
    if (!/^\S.*\(.+;\s*read in .+\)$/.test(b.title))
      problems.push(`${b.where}: title "${b.title}" is not "<entry point> (<file> <function>; read in <versions>)"`);
    if (b.items.length === 0) problems.push(`${b.where}: no numbered item follows`);
    b.items.forEach((it, k) => {
      if (it.number !== k + 1) problems.push(`${it.where}: item numbered ${it.number}, expected ${k + 1}`);
    });
  }
  assert.deepEqual(problems, []);
});

test('every check lists the cases on both sides ("n/a (<reason>)" where a side cannot exist)', () => {
  const problems: string[] = [];
  for (const b of blocks)
    for (const it of b.items) {
      const m = /^(.+?)\s+\|\s*refused:\s*(.+?)\s+\|\s*accepted:\s*(.+)$/.exec(it.text);
      if (!m) {
        problems.push(`${it.where}: item ${it.number} does not end "| refused: … | accepted: …"`);
        continue;
      }
      for (const [name, side] of [
        ['refused', m[2]],
        ['accepted', m[3]],
      ] as const) {
        const r = sideIds(side as string);
        if (typeof r === 'string') problems.push(`${it.where}: ${name}: ${r}`);
      }
      if (m[2]!.trim().startsWith('n/a') && m[3]!.trim().startsWith('n/a'))
        problems.push(`${it.where}: item ${it.number} has no case on either side`);
    }
  assert.deepEqual(problems, []);
});

test('every case id a list names is a case or an instance in the registry', async () => {
  const instances = await loadInstances();
  const ids = new Set<string>();
  for (const i of instances) {
    ids.add(i.id);
    ids.add(i.def.id);
  }
  const missing: string[] = [];
  for (const b of blocks)
    for (const it of b.items) {
      const m = /\|\s*refused:\s*(.+?)\s+\|\s*accepted:\s*(.+)$/.exec(it.text);
      if (!m) continue;
      for (const side of [m[1], m[2]]) {
        const r = sideIds(side as string);
        if (typeof r === 'object' && 'ids' in r)
          for (const id of r.ids) if (!ids.has(id)) missing.push(`${it.where}: ${id} is not a case or instance id`);
      }
    }
  assert.deepEqual(missing, []);
});
