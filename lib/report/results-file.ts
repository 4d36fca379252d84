/** JSON-lines results: one record per line, appended as each case finishes so a killed run keeps them. */
import { openSync, writeSync, closeSync, fsyncSync, readFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CaseResult, EndRecord, ResultsFile, ResultsLine, RunRecord } from '../harness/verdict.js';
import { InputError } from '../errors.js';

function stringify(x: unknown): string {
  return JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Appends records to a results file, one write(2) per line. */
export class ResultsWriter {
  private fd: number;
  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'w');
  }
  /** Appends one record as a line. */
  append(rec: ResultsLine): void {
    writeSync(this.fd, `${stringify(rec)}\n`);
  }
  /** Flushes to disk and closes. */
  close(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}

/** Reads a results file; malformed lines are InputErrors with line and column. */
export function readResults(path: string): ResultsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(path, 0, 0, `cannot read: ${(e as Error).message}`);
  }
  const lines = text.split('\n');
  let run: RunRecord | undefined;
  let end: EndRecord | undefined;
  const results: CaseResult[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: ResultsLine;
    try {
      rec = JSON.parse(line) as ResultsLine;
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      const col = m ? Number(m[1]) + 1 : 1;
      // a truncated last line is what a killed run leaves: keep what came before it
      if (i === lines.length - 1 || (i === lines.length - 2 && lines[lines.length - 1] === '' && !line.endsWith('}'))) return;
      throw new InputError(path, i + 1, col, `not valid JSON: ${(e as Error).message}`);
    }
    if (typeof rec !== 'object' || rec === null || !('type' in rec)) throw new InputError(path, i + 1, 1, 'record has no "type"');
    if (rec.type === 'run') run = rec;
    else if (rec.type === 'result') {
      if (typeof rec.id !== 'string' || typeof rec.verdict !== 'string') throw new InputError(path, i + 1, 1, 'result record needs string "id" and "verdict"');
      results.push(rec);
    } else if (rec.type === 'end') end = rec;
    else throw new InputError(path, i + 1, 1, `unknown record type "${String((rec as { type: unknown }).type)}"`);
  });
  if (!run) throw new InputError(path, 1, 1, 'no "run" record: not a gmem-conformance results file');
  return { path, run, results, ...(end ? { end } : {}) };
}

/** Results grouped by family, families in order of first appearance, each keeping file order: under -j a
 * results file interleaves families as cases finish, while reports list one block per family. */
export function resultsByFamily(results: readonly CaseResult[]): Map<string, CaseResult[]> {
  const families = new Map<string, CaseResult[]>();
  for (const r of results) {
    const list = families.get(r.family);
    if (list) list.push(r);
    else families.set(r.family, [r]);
  }
  return families;
}
