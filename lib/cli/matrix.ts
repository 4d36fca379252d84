/** `matrix`: merges results files (several kernels, several hosts) into one feature matrix (Markdown, JSON, HTML). */
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { readResults } from '../report/results-file.js';
import { buildMatrix, matrixJson, matrixMarkdown, type Matrix } from '../report/matrix.js';
import { matrixHtml } from '../report/matrix-html.js';
import { parseCommandLine } from './args.js';
import { checkNotAnInput, checkOutputDir, writeOutputFile } from './output-paths.js';

const HELP = `usage: gmem-conformance matrix [-o DIR] [--format md,json,html] RESULTS.jsonl...

Merges results files (runs on several kernels/hosts, imported kselftest TAP) into the feature matrix.
Files of the same platform, kernel and host become one column. Writes DIR/matrix.md, matrix.json and
matrix.html (default DIR: results/matrix); prints the Markdown when -o is not given as well.
A cell is present, absent (the kernel said no), broken, untested (every case of it skipped, or none
ran) or inconsistent (it contradicts what its cases ran and saw); every contradiction is also printed
on stderr as a warning.`;

/** Runs the matrix command. */
export default async function matrixCommand(argv: string[]): Promise<number> {
  const p = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string', short: 'o' }, format: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (p.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (p.positionals.length === 0) throw new UsageError('matrix needs at least one results file');
  const formats = (p.values.format ?? 'md,json,html').split(',');
  for (const f of formats)
    if (!['md', 'json', 'html'].includes(f)) throw new UsageError(`--format: unknown format "${f}" (md, json, html)`);
  const dir = resolve(p.values.out ?? 'results/matrix');
  const inputs = p.positionals.map((f) => resolve(f));
  checkOutputDir('-o', dir);
  for (const f of formats) checkNotAnInput('-o', join(dir, `matrix.${f}`), inputs);
  const m = writeMatrix(
    p.positionals.map((f) => resolve(f)),
    dir,
    formats,
  );
  if (!p.values.out) process.stdout.write(matrixMarkdown(m));
  process.stderr.write(
    `matrix: ${m.columns.length} column(s), ${m.features.length} features → ${dir}/matrix.{${formats.join(',')}}\n`,
  );
  // a contradiction is shown in the cells and listed in the files; say so here too, it is never silent
  for (const w of m.warnings) process.stderr.write(`matrix: warning: ${w}\n`);
  return 0;
}

/** Reads results files (all of them first, so bad input writes nothing) and writes the matrix files into dir. */
export function writeMatrix(resultsFiles: string[], dir: string, formats: string[]): Matrix {
  const m = buildMatrix(resultsFiles.map((f) => readResults(f)));
  if (formats.includes('md')) writeOutputFile(join(dir, 'matrix.md'), matrixMarkdown(m));
  if (formats.includes('json')) writeOutputFile(join(dir, 'matrix.json'), matrixJson(m));
  if (formats.includes('html')) writeOutputFile(join(dir, 'matrix.html'), matrixHtml(m));
  return m;
}
