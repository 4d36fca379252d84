/** The matrix page renders in headless Chromium: colours, counts, tooltips, expansion, family filter, offline. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { cli, liveFeature } from './helpers.js';

const CHROMIUM = process.env.GMEM_CHROMIUM ?? '/usr/bin/chromium';

test('matrix.html in headless Chromium', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed (test.sh installs Debian's chromium)`,
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmem-html-'));
  // column 1: a real run on the live kernel of cases deciding a feature it has
  const live = join(dir, 'live.jsonl');
  const lf = liveFeature();
  cli([...lf.selectors.flatMap((s) => ['-t', s]), '-o', live]);
  // column 2: the same run relabelled as another kernel, with one case failing there
  const lines = readFileSync(live, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const other = lines.map((r) => {
    if (r.type === 'run') return { ...r, kernel: '9.9.9-candidate', platform: 'x86_64' };
    if (r.type === 'result' && r.id === lf.victim)
      return { ...r, verdict: 'fail', message: 'expected success, but it failed with EINVAL (22)' };
    return r;
  });
  const cand = join(dir, 'candidate.jsonl');
  writeFileSync(cand, `${other.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const m = cli(['matrix', live, cand, '-o', join(dir, 'out')]);
  assert.equal(m.status, 0, m.stderr);
  const page = join(dir, 'out', 'matrix.html');

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const tab = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const requests: string[] = [];
    tab.on('request', (r) => requests.push(r.url()));
    await tab.goto(`file://${page}`);
    const headers = await tab.locator('thead th').allTextContents();
    assert.equal(headers.length, 3);
    assert.match(headers[2] ?? '', /9\.9\.9-candidate/);
    assert.match(headers[2] ?? '', /1 broken/);
    const gm = tab.locator(`tr.feature[data-feature="${lf.feature}"] td.state`);
    assert.deepEqual(await gm.evaluateAll((tds) => tds.map((td) => td.getAttribute('data-state'))), [
      'present',
      'broken',
    ]);
    const colours = await gm.evaluateAll((tds) => tds.map((td) => getComputedStyle(td).backgroundColor));
    assert.deepEqual(colours, ['rgb(218, 251, 225)', 'rgb(255, 235, 233)']);
    assert.match(
      (await gm.nth(1).getAttribute('title')) ?? '',
      new RegExp(`1 of \\d+ cases fail, e\\.g\\. ${lf.victim.replace(/[.@]/g, '\\$&')}`),
    );
    // expand: the case table lists the failing case with its verdict in the second column
    await tab.locator(`tr.feature[data-feature="${lf.feature}"] td.name`).click();
    const detail = tab.locator(`tr.cases[data-cases-of="${lf.feature}"]`);
    assert.equal(await detail.isVisible(), true);
    assert.ok((await detail.locator('td.v[data-verdict="fail"]').count()) >= 1);
    // filter by family: only memfd rows remain
    await tab.locator('#families button[data-family="memfd"]').click();
    const fams = await tab.locator('tr.feature').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-family')));
    assert.ok(fams.length > 0 && fams.every((f) => f === 'memfd'), `rows after filtering: ${fams.join(',')}`);
    await tab.locator('#families button[data-family="all"]').click();
    const shot = join(dir, 'matrix.png');
    await tab.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000, 'screenshot has content');
    assert.deepEqual(
      requests.filter((u) => !u.startsWith('file://')),
      [],
      'the page made no network request',
    );
    if (process.env.GMEM_KEEP_SCREENSHOT) writeFileSync(process.env.GMEM_KEEP_SCREENSHOT, readFileSync(shot));
  } finally {
    await browser.close();
  }
});
