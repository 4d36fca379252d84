/** Everything a report or script embeds is escaped for where it goes: shell (LAVA), Markdown, HTML, XML, KTAP and the terminal. Hostile labels, ids and messages run nothing and break nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, useScratchDirs } from './helpers.js';
import { ktapResultDiagnostics, ktapResultLine } from '../lib/report/ktap.js';
import { mdCode, mdText } from '../lib/report/markdown-escape.js';
import { shellComment } from '../lib/export/lava.js';
import type { CaseResult } from '../lib/harness/verdict.js';

const scratch = useScratchDirs();

/** Strings that try to run `touch MARKER` in a shell, or to break out of Markdown, HTML, XML or a terminal. */
export function hostileStrings(marker: string): string[] {
  return [
    `x86_64\ntouch ${marker}\n`,
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `'; touch ${marker}; echo '`,
    `"; touch ${marker}; echo "`,
    `\r\ntouch ${marker} #`,
    `\u2028touch ${marker}`,
    `\\'$(touch ${marker})\\'`,
    `a\u0000b; touch ${marker}`,
    `\u001b[2J\u001b]0;owned\u0007\u001b[31mred`,
    '</script><script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '| col | injected |\n|---|---|',
    '`code` **bold** [link](http://evil.example/)',
    ']]><!-- --><?xml?>&amp;&#0;',
    '\ud800 lone surrogate',
    '# heading\n- list',
    `%s%n%x ${marker}`,
  ];
}

function hostileResults(dir: string, marker: string): string {
  const h = hostileStrings(marker);
  const run = {
    type: 'run',
    format: 1,
    suiteVersion: '0.1.0',
    started: '2026-12-03T00:00:00.000Z',
    kernel: h[0],
    arch: 'x86_64',
    host: h[3],
    platform: h[1],
    kvm: {},
    options: {},
  };
  const results = h.map((s, i) => ({
    type: 'result',
    id: `fam${i % 3}.${s}.case${i}`,
    case: `fam${i % 3}.case${i}`,
    family: i % 2 ? `fam${i % 3}` : s,
    verdict: ['fail', 'skip', 'error', 'xfail', 'timeout', 'xpass'][i % 6],
    message: s,
    durationMs: i,
    notes: [s],
    observations: { [s]: s },
    hint: s,
    ...(i % 4 === 0 ? { signal: s } : {}),
  }));
  const file = join(dir, 'hostile.jsonl');
  writeFileSync(
    file,
    `${[run, ...results, { type: 'end', finished: '2026-12-03T00:01:00.000Z', totals: { fail: 3 }, exitCode: 1 }].map((r) => JSON.stringify(r)).join('\n')}\n`,
  );
  return file;
}

test('the LAVA results script of hostile labels, ids and messages runs no embedded command', () => {
  const dir = scratch('gmem-hostile-lava-');
  const marker = join(dir, 'PWNED');
  const results = hostileResults(dir, marker);
  const script = join(dir, 'lava.sh');
  const r = cli(['export', 'lava-results', results, '-o', script]);
  assert.equal(r.status, 0, r.stderr);
  // stand-ins for LAVA's commands that record their arguments one per line
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const name of ['lava-test-case', 'lava-test-set']) {
    writeFileSync(
      join(bin, name),
      `#!/bin/sh\nfor a in "$@"; do printf '%s\\t' "$a"; done >> ${JSON.stringify(join(dir, 'calls.log'))}\necho >> ${JSON.stringify(join(dir, 'calls.log'))}\n`,
    );
    chmodSync(join(bin, name), 0o755);
  }
  for (const shell of ['sh', 'bash']) {
    const x = spawnSync(shell, [script], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      cwd: dir,
    });
    assert.equal(x.status, 0, `${shell}: ${x.stderr}`);
    assert.equal(existsSync(marker), false, `${shell} ran an embedded command`);
    assert.doesNotMatch(x.stdout, /\u001b/, 'no raw escape byte reaches the terminal');
  }
  const calls = readFileSync(join(dir, 'calls.log'), 'utf8').trim().split('\n');
  const cases = calls.filter((l) => /--result\t/.test(l));
  assert.equal(
    cases.length,
    hostileStrings(marker).length * 2 + 2,
    'one lava-test-case per result, per shell, plus the run',
  );
  for (const c of cases)
    assert.match(c.split('\t')[0] as string, /^[A-Za-z0-9_.-]+$/, "case names keep to LAVA's characters");
  assert.ok(
    readFileSync(script, 'utf8')
      .split('\n')
      .every((l) => l === '' || /^(#|set -e$|command -v|lava-test-set |lava-test-case |printf '%s\\n' ')/.test(l)),
    "every line is one of the script's own forms",
  );
});

test('a platform label with a control character is refused where it enters (run, import, lava-job)', () => {
  const dir = scratch('gmem-hostile-label-');
  const tap = join(dir, 'k.tap');
  writeFileSync(tap, 'TAP version 13\n1..1\nok 1 selftests: kvm: guest_memfd_test\n');
  for (const args of [
    ['--platform', 'x86_64\ntouch /tmp/x', '-o', join(dir, 'r.jsonl')],
    ['--platform', '', '-o', join(dir, 'r.jsonl')],
    ['import', tap, '-o', join(dir, 'i.jsonl'), '--platform', 'lab\u0007'],
    ['import', tap, '-o', join(dir, 'i.jsonl'), '--host', 'h\u001b[31m'],
    ['import', tap, '-o', join(dir, 'i.jsonl'), '--kernel', '6.1\r\n'],
    [
      'export',
      'lava-job',
      '--kernel-url',
      'https://x/bz',
      '--rootfs-url',
      'https://x/r.gz',
      '--repo-url',
      'https://x/g.git',
      '--platform',
      'a\nb',
      '-o',
      join(dir, 'j.yaml'),
    ],
    [
      'export',
      'lava-job',
      '--kernel-url',
      'https://x/bz\n  - deploy',
      '--rootfs-url',
      'https://x/r.gz',
      '--repo-url',
      'https://x/g.git',
      '-o',
      join(dir, 'j.yaml'),
    ],
    [
      'export',
      'lava-job',
      '--kernel-url',
      'https://x/bz',
      '--rootfs-url',
      'https://x/r.gz',
      '--repo-url',
      'https://x/g.git',
      '--suite-args=-t gmem\n; reboot',
      '-o',
      join(dir, 'j.yaml'),
    ],
  ]) {
    const r = cli(args);
    assert.equal(r.status, 2, `${JSON.stringify(args)}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /control character U\+00(0A|07|1B|0D) at column \d+ is not allowed in a label|expects a non-empty label/,
    );
  }
  for (const f of ['r.jsonl', 'i.jsonl', 'j.yaml'])
    assert.equal(existsSync(join(dir, f)), false, `${f} was not written`);
});

test('Markdown (compare, matrix), HTML (matrix page) and XML (JUnit) of hostile input stay well-formed', () => {
  const dir = scratch('gmem-hostile-docs-');
  const marker = join(dir, 'PWNED');
  const results = hostileResults(dir, marker);
  const other = join(dir, 'other.jsonl');
  // the same run with every verdict changed, so compare lists every hostile id and message
  writeFileSync(
    other,
    readFileSync(results, 'utf8')
      .replace(/"verdict":"(fail|error|timeout|xpass)"/g, '"verdict":"pass"')
      .replace(/"verdict":"(skip|xfail)"/g, '"verdict":"fail"'),
  );
  const c = cli(['compare', results, other]);
  assert.equal(c.status, 1, c.stderr);
  // inside a code span, Markdown shows < and * as they are: only the text outside code spans may not carry markup
  const outsideCode = (l: string) => l.replace(/(`+)(?!`)(.*?[^`])\1(?!`)/g, '');
  for (const line of c.stdout.split('\n')) {
    assert.doesNotMatch(outsideCode(line), /<script|<img|\u001b|\u0000/, line);
    assert.doesNotMatch(line, /\u001b|\u0000/, line);
    if (line.startsWith('- ')) assert.match(line, /^- `+[^`]/, 'each item starts with its id as code');
  }
  const items = c.stdout.split('\n').filter((l) => l.startsWith('- '));
  assert.ok(items.length >= hostileStrings(marker).length, `every change is one list item (${items.length})`);
  const m = cli(['matrix', results, other, '-o', join(dir, 'm')]);
  assert.equal(m.status, 0, m.stderr);
  const md = readFileSync(join(dir, 'm', 'matrix.md'), 'utf8');
  const header = md.split('\n').find((l) => l.startsWith('| feature |')) as string;
  assert.equal(header.split(/(?<!\\)\|/).length - 2, 2, `two columns, however the labels look: ${header}`);
  assert.doesNotMatch(outsideCode(md), /<script|<img|\u001b/);
  const html = readFileSync(join(dir, 'm', 'matrix.html'), 'utf8');
  assert.equal(html.match(/<script/g)?.length, 2, "only the page's own two script elements");
  assert.doesNotMatch(html, /<img/);
  const junit = join(dir, 'j.xml');
  const j = cli(['export', 'junit', results, '-o', junit]);
  assert.equal(j.status, 0, j.stderr);
  const py = spawnSync(
    'python3',
    [
      '-c',
      'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); print(len(d.getElementsByTagName("testcase")))',
      junit,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(py.status, 0, `JUnit XML is well-formed: ${py.stderr}`);
  assert.equal(Number(py.stdout.trim()), hostileStrings(marker).length);
  mkdirSync(join(dir, 'none'));
  const k = cli(['export', 'kcidb', results, '--no-miss', '--fixtures', join(dir, 'none')]);
  assert.equal(k.status, 0, k.stderr);
  assert.doesNotThrow(() => JSON.parse(k.stdout));
  assert.equal(existsSync(marker), false);
});

test('KTAP lines and shell comments carry no terminal control byte and no line break', () => {
  for (const s of hostileStrings('/tmp/never')) {
    const r: CaseResult = {
      type: 'result',
      id: `a.b.${s}`,
      case: 'a.b.c',
      family: 'a.b',
      verdict: 'fail',
      message: s,
      durationMs: 1,
      notes: [s],
      hint: s,
    };
    for (const line of [...ktapResultDiagnostics(r), ktapResultLine(1, r), shellComment(s), mdText(s), mdCode(s)]) {
      assert.doesNotMatch(line, /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/, JSON.stringify(line));
    }
  }
  assert.equal(mdText('x86_64 *a* <b> |c|'), 'x86_64 \\*a\\* \\<b\\> \\|c\\|');
  assert.equal(mdCode('a`b'), '``a`b``');
});
