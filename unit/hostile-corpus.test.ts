/**
 * The hostile-input corpus: well over 100 bad inputs (results files, kselftest TAP, fixtures, platform
 * profiles, option values, paths that are directories, devices, pseudo files or missing, labels that
 * carry commands). Each must end in a positioned or option-naming refusal (exit 2; bisect run: 255),
 * never an internal error (3); no file that existed before may change, and no embedded command may run.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CLI, HARNESS_CASES, useScratchDirs } from './helpers.js';

const scratch = useScratchDirs();
const root = scratch('gmem-corpus-');
const MARKER = join(root, 'PWNED');
const CMD = `$(touch ${MARKER})`;

function cliAsync(args: string[], cwd = root): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GMEM_IN_GUEST: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (status) => {
      clearTimeout(t);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Every file under dir with its bytes (the "nothing lost or overwritten" check). */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, 'latin1'));
    }
  };
  walk(dir);
  return out;
}

const RUN = {
  type: 'run',
  format: 1,
  suiteVersion: '0',
  started: '2026-12-03T00:00:00Z',
  kernel: 'k',
  arch: 'x86_64',
  host: 'h',
  platform: 'x86_64',
  kvm: {},
  options: {},
};
const RES = { type: 'result', id: 'a.b.c', case: 'a.b.c', family: 'a.b', verdict: 'pass', message: '', durationMs: 1 };
const END = { type: 'end', finished: '2026-12-03T00:01:00Z', totals: { pass: 1 }, exitCode: 0 };
const j = (...recs: unknown[]) => `${recs.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`;

/** Results files no reader may accept: [name, content, what the message says]. */
const BAD_RESULTS: [string, string, RegExp][] = [
  ['empty', '', /:1:1: no "run" record/],
  ['only-newlines', '\n\n\n', /no "run" record/],
  ['nul-bytes', `${j(RUN)}\u0000\u0000\u0000\n${j(RES)}`, /:2:1: not valid JSON/],
  ['two-writers', j(RUN, RES, RUN, RES), /:3:\d+: a second "run" record/],
  ['after-end', j(RUN, RES, END, { ...RES, id: 'a.b.d' }), /:4:\d+: a record after the end record \(line 3\)/],
  ['duplicate-id', j(RUN, RES, RES), /:3:\d+: result a\.b\.c appears twice \(first at line 2\)/],
  ['result-first', j(RES, RUN), /:1:\d+: result a\.b\.c before the "run" record/],
  ['end-first', j(END, RUN), /:1:\d+: an end record before the "run" record/],
  ['array', j([1, 2, 3]), /:1:1: record has no "type"/],
  ['number', '42\n', /:1:1: record has no "type"/],
  ['null', 'null\n', /:1:1: record has no "type"/],
  ['string', '"run"\n', /:1:1: record has no "type"/],
  ['format-2', j({ ...RUN, format: 2 }), /:1:\d+: run record: unsupported results format 2/],
  ['no-format', j({ ...RUN, format: undefined }), /unsupported results format undefined/],
  ['kernel-number', j({ ...RUN, kernel: 7 }), /run record: "kernel" must be a string/],
  ['platform-null', j({ ...RUN, platform: null }), /run record: "platform" must be a string/],
  ['kvm-array', j({ ...RUN, kvm: [] }), /run record: "kvm" must be an object/],
  ['options-string', j({ ...RUN, options: 'x' }), /run record: "options" must be an object/],
  ['verdict-unknown', j(RUN, { ...RES, verdict: 'maybe' }), /:2:\d+: result a\.b\.c: unknown verdict "maybe"/],
  ['verdict-number', j(RUN, { ...RES, verdict: 1 }), /result record needs string "id" and "verdict"/],
  ['id-empty', j(RUN, { ...RES, id: '' }), /result record needs string "id"/],
  ['id-object', j(RUN, { ...RES, id: {} }), /result record needs string "id"/],
  ['message-missing', j(RUN, { ...RES, message: undefined }), /result a\.b\.c: "message" must be a string/],
  ['family-number', j(RUN, { ...RES, family: 3 }), /"family" must be a string/],
  ['duration-negative', j(RUN, { ...RES, durationMs: -5 }), /"durationMs" must be a number of milliseconds >= 0/],
  ['duration-string', j(RUN, { ...RES, durationMs: '5' }), /"durationMs" must be a number/],
  ['notes-string', j(RUN, { ...RES, notes: 'n' }), /"notes" must be a list of strings/],
  ['notes-numbers', j(RUN, { ...RES, notes: [1] }), /"notes" must be a list of strings/],
  ['observations-array', j(RUN, { ...RES, observations: [1] }), /"observations" must be an object/],
  ['signal-number', j(RUN, { ...RES, signal: 9 }), /"signal" must be a string/],
  ['ktap-number-zero', j(RUN, { ...RES, ktapNumber: 0 }), /"ktapNumber" must be a positive integer/],
  [
    'end-totals-strings',
    j(RUN, { ...END, totals: { pass: 'one' } }),
    /end record: "totals" must map verdicts to counts/,
  ],
  ['end-exit-float', j(RUN, { ...END, exitCode: 0.5 }), /end record: "exitCode" must be an integer/],
  ['end-no-finished', j(RUN, { ...END, finished: 1 }), /end record: "finished" must be a string/],
  ['unknown-type', j(RUN, { type: 'bogus' }), /unknown record type "bogus"/],
  ['broken-middle', `${j(RUN)}{"type":"result", oops}\n${j(END)}`, /:2:\d+: not valid JSON/],
  ['truncated-then-more', `${j(RUN)}{"type":"res\n${j(RES)}`, /:2:\d+: not valid JSON/],
  ['binary-lines', '\u007fELF\u0002\n\u0001\u0000\n', /:1:\d+: not valid JSON/],
  ['binary', '\u007fELF\u0002\u0001\u0001\u0000\u0000\u0000', /:1:1: no "run" record/], // one line without newline: a truncated write, then nothing
  ['shell-in-type', j(RUN, { type: CMD }), /unknown record type/],
  ['utf16-bom', `\ufeff${j(RUN)}`, /:1:\d+: not valid JSON/],
];

/** kselftest TAP the importer refuses. */
const BAD_TAP: [string, string, RegExp][] = [
  ['tap-empty', '', /not kselftest TAP/],
  ['tap-no-version', 'ok 1 selftests: kvm: a\n', /not kselftest TAP/],
  ['tap-no-points', 'TAP version 13\n1..0\n', /no test points/],
  ['tap-truncated', 'TAP version 13\n1..3\nok 1 selftests: kvm: a\n', /plan says 1\.\.3/],
  ['tap-bailout', 'TAP version 13\n1..2\nok 1 selftests: kvm: a\nBail out! fire\n', /bailed out/],
  ['tap-binary', '\u0000\u0001\u0002\u0003', /not kselftest TAP/],
  ['tap-json', j(RUN), /not kselftest TAP/],
];

/** Expectation fixtures the run refuses at load time, with their position. */
const BAD_FIXTURES: [string, string, RegExp][] = [
  [
    'unknown-case',
    'expectations:\n  gmem.create.no_such_case:\n    - when: {}\n      set: { errno: EINVAL }\n',
    /a\.yaml:2:3: no case or instance "gmem\.create\.no_such_case"/,
  ],
  [
    'unknown-known-failure',
    'known_failures:\n  gmem.nope.nope:\n    - reason: x\n',
    /a\.yaml:2:3: no case or instance "gmem\.nope\.nope"/,
  ],
  [
    'unknown-errno',
    'expectations:\n  gmem.create.size_zero:\n    - when: {}\n      set: { errno: EINVALL }\n',
    /a\.yaml:4:\d+: .*set\.errno: unknown errno name "EINVALL"/,
  ],
  [
    'unknown-cap',
    'expectations:\n  gmem.create.size_zero:\n    - when: {}\n      set: { cap: KVM_CAP_GUEST_MEMFDD }\n',
    /a\.yaml:4:\d+: .*set\.cap: unknown capability "KVM_CAP_GUEST_MEMFDD"/,
  ],
  [
    'vm-type',
    'expectations:\n  gmem.create.size_zero:\n    - when: { vm_type: snp }\n      set: { errno: EINVAL }\n',
    /a\.yaml:3:\d+: .*when\.vm_type: a rule cannot be keyed on vm_type/,
  ],
  [
    'unknown-when',
    'expectations:\n  gmem.create.size_zero:\n    - when: { distro: debian }\n      set: {}\n',
    /a\.yaml:3:\d+: .*when\.distro: Invalid key/,
  ],
  [
    'unknown-rule-key',
    'expectations:\n  gmem.create.size_zero:\n    - when: {}\n      set: {}\n      colour: red\n',
    /a\.yaml:5:7: .*colour: Invalid key/,
  ],
  ['unknown-top', 'expectation:\n  gmem.create.size_zero: []\n', /a\.yaml:1:1: expectation: Invalid key/],
  [
    'bad-range',
    'expectations:\n  gmem.create.size_zero:\n    - when: { kernel: ">=seven" }\n      set: {}\n',
    /a\.yaml:3:\d+: .*kernel version range/,
  ],
  [
    'bad-commit',
    'expectations:\n  gmem.create.size_zero:\n    - when: {}\n      set: {}\n      commit: "$(reboot)"\n',
    /a\.yaml:5:\d+: .*commit/,
  ],
  ['yaml-syntax', 'expectations: [1, 2\n', /a\.yaml:\d+:\d+: YAML syntax/],
  [
    'duplicate-key',
    'expectations:\n  gmem.create.size_zero: []\n  gmem.create.size_zero: []\n',
    /a\.yaml:3:3: YAML syntax: Map keys must be unique/,
  ],
  [
    'set-list',
    'expectations:\n  gmem.create.size_zero:\n    - when: {}\n      set: [errno]\n',
    /a\.yaml:4:\d+: .*set: Invalid type: expected a map/,
  ],
  [
    'set-nested',
    'expectations:\n  gmem.create.size_zero:\n    - when: {}\n      set: { errno: { x: 1 } }\n',
    /a\.yaml:4:\d+: .*set\.errno/,
  ],
  ['empty-reason', 'known_failures:\n  gmem.create.size_zero:\n    - reason: ""\n', /a\.yaml:3:\d+: .*reason/],
  ['not-a-map', '- 1\n- 2\n', /a\.yaml:1:1: Invalid type: expected a map/],
  [
    'expectations-list',
    'expectations:\n  - gmem.create.size_zero\n',
    /a\.yaml:2:3: expectations: Invalid type: expected a map/,
  ],
];

const dirs = (() => {
  const d = join(root, 'in');
  mkdirSync(join(d, 'adir'), { recursive: true });
  writeFileSync(join(d, 'afile'), 'x\n');
  writeFileSync(join(d, 'good.jsonl'), j(RUN, RES, END));
  writeFileSync(join(d, 'k.tap'), 'TAP version 13\n1..1\nok 1 selftests: kvm: guest_memfd_test\n');
  mkdirSync(join(d, 'fixtures', 'expectations'), { recursive: true });
  for (const [name, text] of BAD_RESULTS) writeFileSync(join(d, `${name}.jsonl`), text);
  for (const [name, text] of BAD_TAP) writeFileSync(join(d, `${name}.tap`), text);
  for (const [name, text] of BAD_FIXTURES) {
    mkdirSync(join(d, `fx-${name}`, 'expectations'), { recursive: true });
    writeFileSync(join(d, `fx-${name}`, 'expectations', 'a.yaml'), text);
  }
  return d;
})();
const IN = dirs;
const GOOD = join(IN, 'good.jsonl');
const H = ['--cases', HARNESS_CASES, '-t', 'harness.demo.pass_before', '--matrix', 'none'];

/** Command lines that must be refused: [args, expected status, what the message says]. */
const BAD_COMMANDS: [string[], number, RegExp][] = [
  // numbers
  [[...H, '-j', '0'], 2, /--jobs expects a positive integer/],
  [[...H, '-j', '-1'], 2, /ambiguous|--jobs/],
  [[...H, '-j', '1.5'], 2, /--jobs expects a positive integer/],
  [[...H, '-j', '99999999999999999999'], 2, /--jobs expects at most 1024/],
  [[...H, '-j', '0x10'], 2, /--jobs expects a positive integer/],
  [[...H, '-j', ''], 2, /--jobs expects a positive integer/],
  [[...H, '--timeout', '2147484'], 2, /--timeout expects at most 2147483\.647 seconds/],
  [[...H, '--timeout', '1e9'], 2, /--timeout expects a positive number of seconds/],
  [[...H, '--timeout', 'Infinity'], 2, /--timeout expects a positive number of seconds/],
  [[...H, '--timeout', 'NaN'], 2, /--timeout expects a positive number of seconds/],
  [[...H, '--timeout', '0.0000001'], 2, /--timeout expects at least 0\.001 seconds/],
  [[...H, '--timeout', '99999999999999999999999'], 2, /--timeout expects at most/],
  [['qualify', '--profile', 'x86-default', '-j', 'x', '--results', GOOD], 2, /-j\/--jobs expects a positive integer/],
  [['kernels', 'run', '-j', '0', '-o', join(root, 'kr')], 2, /--jobs expects a positive integer/],
  [['kernels', 'run', '--timeout', '3000000', '-o', join(root, 'kr')], 2, /--timeout expects at most/],
  [['kernels', 'run', '--memory', '0', '-o', join(root, 'kr')], 2, /--memory expects a positive integer/],
  [['kernels', 'run', '--accel', 'warp', '-o', join(root, 'kr')], 2, /--accel expects tcg, kvm or auto/],
  [['kernels', 'boot', '--timeout', '-1'], 2, /ambiguous|--timeout/],
  [['kernels', 'frobnicate'], 2, /unknown kernels command/],
  [
    ['bisect', 'run', '-t', 'gmem.create', '--kernel', join(IN, 'afile'), '--timeout', '9999999'],
    255,
    /--timeout expects at most .* stopping the bisection \(255\)/,
  ],
  [['bisect', 'run', '-t', 'gmem.create'], 255, /needs --kernel IMAGE .*stopping the bisection \(255\)/],
  [['bisect', 'run', '--kernel', join(IN, 'afile')], 255, /needs -t SEL/],
  [['bisect', 'run', '-t', 'x', '--kernel', join(IN, 'afile'), '--good-if', 'maybe'], 255, /--good-if expects/],
  [['bisect', 'frob'], 2, /unknown bisect command/],
  // paths: directories as files, files as directories, missing, pseudo and device files
  [[...H, '-o', join(IN, 'adir')], 2, /-o\/--results: .*adir is a directory, not a file/],
  [[...H, '-o', join(IN, 'afile', 'r.jsonl')], 2, /afile is not a directory/],
  [[...H, '-o', '/proc/r.jsonl'], 2, /cannot create files in \/proc/],
  [[...H, '-o', '/sys/r.jsonl'], 2, /cannot create files in \/sys/],
  [[...H, '-o', '/dev/null'], 2, /\/dev\/null is not a regular file/],
  [[...H, '-o', ''], 2, /-o\/--results expects a file name/],
  [[...H, '-o', GOOD, '--ktap', GOOD], 2, /name the same file/],
  [[...H, '-o', join(root, 'o1.jsonl'), '--ktap', join(IN, 'adir')], 2, /--ktap: .*adir is a directory/],
  [[...H, '-o', join(root, 'o1.jsonl'), '--ktap', '/proc/k'], 2, /--ktap: \/proc\/k: cannot create files/],
  [[...H, '-o', join(root, 'o1.jsonl'), '--matrix', join(IN, 'afile')], 2, /--matrix: .*afile is not a directory/],
  [
    [...H, '-o', join(IN, 'fixtures', 'r.jsonl'), '--fixtures', join(IN, 'fixtures')],
    2,
    /is inside the --fixtures directory/,
  ],
  [['--cases', '/nonexistent', '-l'], 2, /--cases: \/nonexistent cannot be read \(ENOENT\)/],
  [['--cases', join(IN, 'afile'), '-l'], 2, /--cases: .*afile is not a directory/],
  [
    [...H, '--fixtures', '/nonexistent', '-o', join(root, 'o2.jsonl')],
    2,
    /\/nonexistent: the fixtures directory cannot be read: ENOENT/,
  ],
  [
    [...H, '--fixtures', join(IN, 'afile'), '-o', join(root, 'o2.jsonl')],
    2,
    /afile: the fixtures directory is not a directory/,
  ],
  [[...H, '--fixtures', '', '-o', join(root, 'o2.jsonl')], 2, /--fixtures expects a directory/],
  [['matrix', join(IN, 'adir')], 2, /adir: cannot read: EISDIR/],
  [['matrix', '/nonexistent.jsonl'], 2, /cannot read: ENOENT/],
  [['matrix', GOOD, '-o', join(IN, 'afile')], 2, /-o: .*afile is not a directory/],
  [['matrix', GOOD, '-o', '/proc/m'], 2, /cannot create files in \/proc/],
  [['matrix', GOOD, '--format', ''], 2, /unknown format ""/],
  [['matrix', GOOD, '--format', 'md,pdf'], 2, /unknown format "pdf"/],
  [['compare', GOOD, join(IN, 'adir')], 2, /EISDIR/],
  [['compare', GOOD, GOOD, '--json', join(IN, 'adir')], 2, /--json: .*adir is a directory/],
  [['compare', GOOD, GOOD, '--markdown', GOOD], 2, /--markdown: .*good\.jsonl is also an input/],
  [['compare', GOOD, GOOD, '--json', '/proc/x.json'], 2, /cannot create files in \/proc/],
  [['features', join(IN, 'adir')], 2, /EISDIR/],
  [['features', '/proc/self/mem'], 2, /cannot read/],
  [['qualify', '--profile', 'x86-default', '--results', join(IN, 'adir')], 2, /EISDIR/],
  [
    ['qualify', '--profile', 'x86-default', '--fixtures', '/nonexistent'],
    2,
    /--fixtures: \/nonexistent cannot be read/,
  ],
  [
    ['qualify', '--profile', 'x86-default', '--results', GOOD, '--report', join(IN, 'adir')],
    2,
    /--report: .*adir is a directory/,
  ],
  [
    ['qualify', '--profile', 'x86-default', '--results', GOOD, '--report', '/proc/q.md'],
    2,
    /cannot create files in \/proc/,
  ],
  [['qualify', '--profile', `x86-default${CMD}`], 2, /no profile/],
  [['import', join(IN, 'adir'), '-o', join(root, 'i.jsonl')], 2, /cannot read: EISDIR/],
  [['import', join(IN, 'k.tap'), '-o', join(IN, 'adir')], 2, /-o: .*adir is a directory/],
  [['import', join(IN, 'k.tap'), '-o', '/proc/i.jsonl'], 2, /cannot create files in \/proc/],
  [['import', join(IN, 'k.tap'), '-o', join(IN, 'k.tap')], 2, /is also an input/],
  [['import', '/proc/self/mem', '-o', join(root, 'i.jsonl')], 2, /cannot read/],
  [['export', 'kcidb', join(IN, 'adir')], 2, /EISDIR/],
  [['export', 'kcidb', GOOD, '-o', join(IN, 'adir')], 2, /-o: .*adir is a directory/],
  [['export', 'kcidb', GOOD, '--cases', '/nonexistent'], 2, /--cases: \/nonexistent cannot be read/],
  [['export', 'kcidb', GOOD, '--fixtures', '/nonexistent'], 2, /the fixtures directory cannot be read/],
  [['export', 'kcidb', GOOD, '--git-commit', CMD], 2, /--git-commit expects a full 40-hex commit id/],
  [['export', 'kcidb', GOOD, '--origin', `lab;${CMD}`], 2, /--origin expects a KCIDB origin/],
  [['export', 'kcidb', GOOD, '--log-url', 'javascript alert(1)'], 2, /--log-url expects a URL/],
  [['export', 'junit', GOOD, '-o', GOOD], 2, /is also an input/],
  [['export', 'junit', GOOD, '-o', '/proc/j.xml'], 2, /cannot create files in \/proc/],
  [['export', 'lava-results', GOOD, '-o', join(IN, 'adir')], 2, /is a directory/],
  [['export', 'lava-results', GOOD, GOOD], 2, /needs exactly one results file/],
  [
    [
      'export',
      'lava-job',
      '--template',
      join(IN, 'adir'),
      '--kernel-url',
      'https://k',
      '--rootfs-url',
      'https://r',
      '--repo-url',
      'https://g',
    ],
    2,
    /cannot read the job template/,
  ],
  [
    [
      'export',
      'lava-job',
      '--template',
      join(IN, 'afile'),
      '--kernel-url',
      'https://k',
      '--rootfs-url',
      'https://r',
      '--repo-url',
      'https://g',
      '-o',
      join(IN, 'afile'),
    ],
    2,
    /is also an input/,
  ],
  [
    [
      'export',
      'lava-job',
      '--kernel-url',
      'https://k',
      '--rootfs-url',
      'https://r',
      '--repo-url',
      'https://g',
      '--rootfs-compression',
      'rar',
    ],
    2,
    /--rootfs-compression expects gz/,
  ],
  [['export', 'yaml', GOOD], 2, /unknown format "yaml"/],
  // labels that carry commands or control characters
  [[...H, '-o', join(root, 'o3.jsonl'), '--platform', `lab\n${CMD}`], 2, /--platform: control character U\+000A/],
  [[...H, '-o', join(root, 'o3.jsonl'), '--platform', 'a\u0001b'], 2, /control character U\+0001/],
  [[...H, '-o', join(root, 'o3.jsonl'), '--platform', '\u001b[31mred'], 2, /control character U\+001B/],
  [[...H, '-o', join(root, 'o3.jsonl'), '--platform', 'a\u2028b'], 2, /control character U\+2028/],
  [[...H, '-o', join(root, 'o3.jsonl'), '--platform', 'x'.repeat(201)], 2, /at most 200 characters/],
  [[...H, '-o', join(root, 'o3.jsonl'), '--platform', '   '], 2, /non-empty label/],
  [
    ['import', join(IN, 'k.tap'), '-o', join(root, 'i2.jsonl'), '--kernel', `6.1\r\n${CMD}`],
    2,
    /--kernel: control character U\+000D/,
  ],
  [
    ['import', join(IN, 'k.tap'), '-o', join(root, 'i2.jsonl'), '--host', 'h\u0085'],
    2,
    /--host: control character U\+0085/,
  ],
  [
    [
      'export',
      'lava-job',
      '--kernel-url',
      'https://k',
      '--rootfs-url',
      'https://r',
      '--repo-url',
      'https://g',
      '--job-name',
      `j\n${CMD}`,
    ],
    2,
    /--job-name: control character/,
  ],
  [
    [
      'export',
      'lava-job',
      '--kernel-url',
      'https://k',
      '--rootfs-url',
      'https://r',
      '--repo-url',
      `https://g\n  - ${CMD}`,
    ],
    2,
    /--repo-url: control character/,
  ],
  // help and unknown options
  [['--bogus'], 2, /Unknown option '--bogus'/],
  [['frobnicate'], 2, /unknown command "frobnicate"/],
  [['matrix', '--bogus', GOOD], 2, /Unknown option/],
  [['compare', GOOD], 2, /exactly two results files/],
  [['export'], 2, /export needs a format/],
];

describe('hostile-input corpus', { concurrency: 4 }, () => {
  const cases: { name: string; args: string[]; status: number; message: RegExp }[] = [];
  for (const [name, , message] of BAD_RESULTS) {
    const file = join(IN, `${name}.jsonl`);
    cases.push({
      name: `results file ${name} (matrix)`,
      args: ['matrix', GOOD, file, '-o', join(root, `m-${name}`)],
      status: 2,
      message,
    });
    cases.push({
      name: `results file ${name} (compare as candidate)`,
      args: ['compare', GOOD, file, '--json', join(root, `c-${name}.json`)],
      status: 2,
      message,
    });
    cases.push({ name: `results file ${name} (features)`, args: ['features', file], status: 2, message });
    cases.push({
      name: `results file ${name} (export lava-results)`,
      args: ['export', 'lava-results', file, '-o', join(root, `l-${name}.sh`)],
      status: 2,
      message,
    });
  }
  cases.push({
    name: 'results file nul-bytes (export junit)',
    args: ['export', 'junit', join(IN, 'nul-bytes.jsonl')],
    status: 2,
    message: /:2:1: not valid JSON/,
  });
  cases.push({
    name: 'results file two-writers (export kcidb)',
    args: ['export', 'kcidb', join(IN, 'two-writers.jsonl')],
    status: 2,
    message: /a second "run" record/,
  });
  cases.push({
    name: 'results file duplicate-id (qualify)',
    args: [
      'qualify',
      '--profile',
      'x86-default',
      '--results',
      join(IN, 'duplicate-id.jsonl'),
      '--report',
      join(root, 'q.md'),
    ],
    status: 2,
    message: /appears twice/,
  });
  for (const [name, , message] of BAD_TAP) {
    cases.push({
      name: `kselftest TAP ${name}`,
      args: ['import', join(IN, `${name}.tap`), '-o', join(root, `imp-${name}.jsonl`)],
      status: 2,
      message,
    });
  }
  for (const [name, , message] of BAD_FIXTURES) {
    cases.push({
      name: `fixture ${name}`,
      args: [
        '-t',
        'gmem.create.size_zero',
        '--fixtures',
        join(IN, `fx-${name}`),
        '-o',
        join(root, `fx-${name}.jsonl`),
        '--matrix',
        'none',
      ],
      status: 2,
      message,
    });
  }
  BAD_COMMANDS.forEach(([args, status, message], i) =>
    cases.push({ name: `command #${i + 1}: ${JSON.stringify(args).slice(0, 120)}`, args, status, message }),
  );

  test('the corpus holds at least 100 hostile inputs', () => {
    assert.ok(cases.length >= 100, `${cases.length}`);
  });

  const before = snapshot(root);
  for (const c of cases) {
    test(c.name, async () => {
      const r = await cliAsync(c.args);
      assert.notEqual(r.status, 3, `internal error: ${r.stderr}`);
      assert.equal(r.status, c.status, `${r.status}: ${r.stderr}`);
      assert.match(r.stderr, c.message);
      assert.doesNotMatch(r.stderr, /internal error/);
      assert.equal(existsSync(MARKER), false, 'no embedded command ran');
    });
  }

  after(() => {
    // every file that existed before the corpus ran is still there, byte for byte; the refusals wrote nothing
    const now = snapshot(root);
    for (const [f, bytes] of before) assert.equal(now.get(f), bytes, `${f} changed or vanished`);
    const added = [...now.keys()].filter((f) => !before.has(f));
    assert.deepEqual(added, [], 'a refused command wrote a file');
    assert.equal(existsSync(MARKER), false);
  });
});
