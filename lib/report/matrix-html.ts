/** The matrix as one self-contained HTML page (no network): colours, counts, tooltips, expandable rows, filters. */
import type { Matrix } from './matrix.js';

const CSS = `
:root { --present:#1a7f37; --present-bg:#dafbe1; --absent:#57606a; --absent-bg:#eaeef2; --broken:#cf222e; --broken-bg:#ffebe9; --untested:#57606a; --untested-bg:#ffffff; --inconsistent:#9a6700; --inconsistent-bg:#fff8c5; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1f2328; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } .sub { color: #57606a; margin-bottom: 1em; }
.controls { display: flex; flex-wrap: wrap; gap: .4em; align-items: center; margin-bottom: 1em; }
.controls button { border: 1px solid #d0d7de; background: #f6f8fa; border-radius: 2em; padding: .2em .8em; cursor: pointer; }
.controls button[aria-pressed="true"] { background: #0969da; color: white; border-color: #0969da; }
.controls input { padding: .3em .6em; border: 1px solid #d0d7de; border-radius: 6px; min-width: 16em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #d0d7de; padding: .35em .6em; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
th .counts { font-weight: normal; font-size: .85em; color: #57606a; display: block; }
tr.feature { cursor: pointer; } tr.feature:hover td.name { background: #f6f8fa; }
td.name .id { color: #57606a; font-family: ui-monospace, monospace; font-size: .85em; display: block; }
td.state { text-align: center; white-space: nowrap; font-weight: 600; }
td.state[data-state="present"] { color: var(--present); background: var(--present-bg); }
td.state[data-state="absent"] { color: var(--absent); background: var(--absent-bg); }
td.state[data-state="broken"] { color: var(--broken); background: var(--broken-bg); }
td.state[data-state="untested"] { color: var(--untested); background: var(--untested-bg); font-weight: normal; font-style: italic; }
td.state[data-state="inconsistent"] { color: var(--inconsistent); background: var(--inconsistent-bg); }
.warnings { border: 1px solid #d4a72c; background: #fff8c5; padding: .5em 1em; margin-bottom: 1em; }
td.state[data-state="present"][data-verified="false"] { background: #f1fbf3; font-weight: normal; }
td.state .value { display: block; font-weight: normal; font-size: .85em; }
tr.cases > td { padding: 0 0 0 1.5em; background: #fbfcfd; } tr.cases table { width: 100%; margin: .3em 0; }
td.v { font-family: ui-monospace, monospace; font-size: .85em; }
td.v[data-verdict="pass"], td.v[data-verdict="xfail"] { color: var(--present); }
td.v[data-verdict="fail"], td.v[data-verdict="error"], td.v[data-verdict="timeout"], td.v[data-verdict="xpass"] { color: var(--broken); font-weight: 600; }
td.v[data-verdict="skip"] { color: var(--absent); }
.legend span { margin-right: 1em; } .hidden { display: none; }
`;

const SCRIPT = `
const M = JSON.parse(document.getElementById('matrix-data').textContent);
const $ = (t, a = {}, ...kids) => { const e = document.createElement(t); for (const [k, v] of Object.entries(a)) { if (k === 'text') e.textContent = v; else e.setAttribute(k, v); } for (const c of kids) e.append(c); return e; };
const LABEL = { present: '✔ present', absent: '– absent', broken: '✘ broken', untested: '○ untested', inconsistent: '⚠ inconsistent' };
const families = [...new Set(M.features.map(f => f.family))];
let activeFamily = 'all', text = '';
function tip(cell) {
  const counts = Object.entries(cell.counts).map(([k, v]) => k + ' ' + v).join(', ');
  const caps = Object.entries(cell.caps).map(([k, v]) => k + ' = ' + v).join(', ');
  const ev = cell.cases.slice(0, 6).map(c => c.verdict + ' ' + c.id + (c.message ? ': ' + c.message : '')).join('\\n');
  const problems = (cell.problems || []).map(p => '⚠ ' + p).join('\\n');
  return cell.reason + (problems ? '\\n' + problems : '') + (caps ? '\\ncaps: ' + caps : '') + (counts ? '\\ncases: ' + counts : '') + (ev ? '\\n' + ev : '') + (cell.cases.length > 6 ? '\\n… ' + (cell.cases.length - 6) + ' more' : '');
}
function render() {
  const tbody = document.getElementById('rows'); tbody.textContent = '';
  for (const f of M.features) {
    if (activeFamily !== 'all' && f.family !== activeFamily) continue;
    if (text && !(f.id + ' ' + f.title).toLowerCase().includes(text)) continue;
    const tr = $('tr', { class: 'feature', 'data-feature': f.id, 'data-family': f.family, 'aria-expanded': 'false' });
    tr.append($('td', { class: 'name' }, f.title, $('span', { class: 'id', text: f.id })));
    f.cells.forEach(c => {
      const td = $('td', { class: 'state', 'data-state': c.state, 'data-verified': String(c.verified), title: tip(c), text: c.state === 'present' && !c.verified ? '✔ advertised' : LABEL[c.state] });
      if (c.value) td.append($('span', { class: 'value', text: c.value }));
      tr.append(td);
    });
    const detail = $('tr', { class: 'cases hidden', 'data-cases-of': f.id });
    tr.addEventListener('click', () => {
      const open = tr.getAttribute('aria-expanded') === 'true';
      tr.setAttribute('aria-expanded', String(!open));
      if (!open && !detail.firstChild) detail.append(caseTable(f));
      detail.classList.toggle('hidden', open);
    });
    tbody.append(tr, detail);
  }
}
function caseTable(f) {
  const ids = [...new Set(f.cells.flatMap(c => c.cases.map(x => x.id)))];
  const td = $('td', { colspan: String(M.columns.length + 1) });
  if (!ids.length) { td.append($('em', { text: 'decided from capabilities only: ' + f.cells.map(c => c.reason).join(' | ') })); return td; }
  const t = $('table');
  for (const id of ids) {
    const row = $('tr', {}, $('td', { class: 'v', text: id }));
    f.cells.forEach(c => { const x = c.cases.find(e => e.id === id); row.append($('td', { class: 'v', 'data-verdict': x ? x.verdict : 'none', title: x ? x.message : 'not run', text: x ? x.verdict : '—' })); });
    t.append(row);
  }
  td.append(t); return td;
}
const ctl = document.getElementById('families');
for (const fam of ['all', ...families]) {
  const b = $('button', { type: 'button', 'data-family': fam, 'aria-pressed': String(fam === 'all'), text: fam });
  b.addEventListener('click', () => { activeFamily = fam; for (const x of ctl.querySelectorAll('button')) x.setAttribute('aria-pressed', String(x === b)); render(); });
  ctl.append(b);
}
document.getElementById('filter').addEventListener('input', e => { text = e.target.value.toLowerCase(); render(); });
const head = document.getElementById('head');
for (const c of M.columns) {
  const counts = ['present', 'absent', 'broken', 'untested', 'inconsistent'].map(s => M.features.filter(f => f.cells[M.columns.indexOf(c)].state === s).length);
  const t = c.totals;
  head.append($('th', { 'data-column': c.key, title: c.sources.join('\\n') + (c.complete ? '' : '\\n(incomplete run)') }, c.label,
    $('span', { class: 'counts', text: counts[0] + ' present · ' + counts[1] + ' absent · ' + counts[2] + ' broken · ' + counts[3] + ' untested' + (counts[4] ? ' · ' + counts[4] + ' inconsistent' : '') }),
    $('span', { class: 'counts', text: (t.pass || 0) + ' pass · ' + ((t.fail || 0) + (t.error || 0) + (t.timeout || 0) + (t.xpass || 0)) + ' fail · ' + (t.skip || 0) + ' skip' + (t.xfail ? ' · ' + t.xfail + ' xfail' : '') })));
}
const warn = document.getElementById('warnings');
if (M.warnings.length) {
  warn.append($('strong', { text: M.warnings.length + ' consistency warning(s)' }));
  const ul = $('ul'); for (const w of M.warnings) ul.append($('li', { text: w })); warn.append(ul);
} else warn.remove();
render();
`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Renders the matrix page; the data is embedded as JSON and the page works offline. */
export function matrixHtml(m: Matrix): string {
  const data = JSON.stringify(m).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gmem-conformance feature matrix</title><style>${CSS}</style></head>
<body>
<h1>gmem-conformance feature matrix</h1>
<div class="sub">${escapeHtml(`${m.columns.length} column(s), ${m.features.length} features, ${m.cases.length} cases — generated ${m.generated}`)}. Click a feature to see its cases; hover a cell for the evidence.</div>
<div class="controls"><span id="families"></span><input id="filter" type="search" placeholder="filter features…" aria-label="filter features"></div>
<div class="legend"><span style="color:var(--present)">✔ present: cases ran and passed</span><span style="color:var(--present)">✔ advertised: capability says so, no case of it ran</span><span style="color:var(--absent)">– absent: the kernel was asked and said no</span><span style="color:var(--broken)">✘ broken: advertised or exercised, but a case fails</span><span style="color:var(--untested)">○ untested: not tested here (every case skipped, or none ran)</span><span style="color:var(--inconsistent)">⚠ inconsistent: the cell contradicts its cases</span></div>
<div class="warnings" id="warnings"></div>
<table id="matrix"><thead><tr id="head"><th>feature</th></tr></thead><tbody id="rows"></tbody></table>
<script type="application/json" id="matrix-data">${data}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
