/** `kernels run` over the host and a Debian kernel: one results file per kernel, the summary, and the merged matrix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, liveHasGuestMemfd, useScratchDirs } from './helpers.js';
import { vmSkipReason } from './vm-helpers.js';

/** A temporary directory removed when the file's tests are done. */
const scratch = useScratchDirs();

const skip = vmSkipReason(['6.1']);

test('kernels run host 6.1 writes both results files and a two-column matrix showing guest_memfd absent on 6.1', {
  skip,
  timeout: 150_000,
}, () => {
  const dir = scratch('gmem-unit-');
  const r = cli(
    ['kernels', 'run', 'host', '6.1', '-j', '2', '-t', 'gmem.create.one_page', '--timeout', '120', '-o', dir],
    { timeoutMs: 140_000 },
  );
  assert.ok(r.status === 0 || r.status === 1, `${r.status}: ${r.stderr}`);
  for (const label of ['host', '6.1']) assert.ok(existsSync(join(dir, `${label}.jsonl`)), `${label}.jsonl`);
  const guest = readFileSync(join(dir, '6.1.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; kernel?: string; verdict?: string });
  assert.match(guest[0]?.kernel ?? '', /^6\.1\.0-/);
  assert.deepEqual(
    guest.filter((l) => l.type === 'result').map((l) => l.verdict),
    ['skip', 'skip', 'skip'],
    'no guest_memfd on 6.1',
  );
  const summary = JSON.parse(readFileSync(join(dir, 'kernels.json'), 'utf8')) as { label: string; outcome: string }[];
  assert.deepEqual(
    summary.map((s) => [s.label, s.outcome]),
    [
      ['host', 'completed'],
      ['6.1', 'completed'],
    ],
  );
  assert.match(r.stdout, /^host\s+\S+\s+completed/m);
  const matrix = readFileSync(join(dir, 'matrix.md'), 'utf8');
  // the host column says what the live kernel has (machines of this kind differ); 6.1 has no guest_memfd
  const host = liveHasGuestMemfd() ? '✔ present' : '– absent';
  assert.match(matrix, new RegExp(`\\| KVM_CREATE_GUEST_MEMFD \`guest_memfd\` \\| ${host} \\| – absent \\|`));
});
