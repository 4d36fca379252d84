/** JSON-lines results: the record types and the one strict reader every command uses (the writer is results-writer.ts). */
import { readFileSync } from 'node:fs';
import { VERDICTS, type CaseResult, type EndRecord, type ResultsFile, type RunRecord } from '../harness/verdict.js';
import { InputError } from '../errors.js';

const RUN_STRINGS = ['suiteVersion', 'started', 'kernel', 'arch', 'host', 'platform'] as const;
const RESULT_STRINGS = ['case', 'family', 'message'] as const;
const RESULT_OPTIONAL_STRINGS = ['variant', 'signal', 'hint'] as const;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Reads a results file strictly: every record and every field the reports read is checked, and the
 * first problem is an InputError at file:line:col (the column of the offending key where it can be
 * found). The one thing tolerated is what a killed run leaves: a last line without its newline that
 * is not valid JSON (the write the kill interrupted), and no end record.
 */
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
  let endLine = 0;
  const results: CaseResult[] = [];
  const seen = new Map<string, number>();
  lines.forEach((line, i) => {
    const n = i + 1;
    if (line.trim() === '') return;
    const colOf = (key: string) => {
      const at = line.indexOf(`"${key}"`);
      return at < 0 ? 1 : at + 1;
    };
    const fail = (key: string | null, what: string): never => {
      throw new InputError(path, n, key ? colOf(key) : 1, what);
    };
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      // a truncated last line is what a killed run leaves: keep what came before it
      if (i === lines.length - 1 && !end) return;
      const m = /position (\d+)/.exec((e as Error).message);
      throw new InputError(path, n, m ? Number(m[1]) + 1 : 1, `not valid JSON: ${(e as Error).message}`);
    }
    if (!isObject(rec) || !('type' in rec)) return fail(null, 'record has no "type"');
    if (end)
      fail('type', `a record after the end record (line ${endLine}): two runs wrote this file, or it was appended to`);
    if (rec.type === 'run') {
      if (run) fail('type', 'a second "run" record: two runs wrote this file');
      if (results.length) fail('type', 'the "run" record must come first');
      if (rec.format !== 1)
        fail(
          'format',
          `run record: unsupported results format ${JSON.stringify(rec.format)} (this suite reads format 1)`,
        );
      for (const k of RUN_STRINGS) if (typeof rec[k] !== 'string') fail(k, `run record: "${k}" must be a string`);
      if (!isObject(rec.kvm)) fail('kvm', 'run record: "kvm" must be an object');
      if (!isObject(rec.options)) fail('options', 'run record: "options" must be an object');
      run = rec as unknown as RunRecord;
    } else if (rec.type === 'result') {
      if (typeof rec.id !== 'string' || rec.id === '') fail('id', 'result record needs string "id" and "verdict"');
      if (typeof rec.verdict !== 'string') fail('verdict', 'result record needs string "id" and "verdict"');
      const id = rec.id as string;
      if (!run) fail('type', `result ${id} before the "run" record`);
      if (!(VERDICTS as readonly string[]).includes(rec.verdict as string))
        fail('verdict', `result ${id}: unknown verdict "${String(rec.verdict)}" (${VERDICTS.join(', ')})`);
      for (const k of RESULT_STRINGS) if (typeof rec[k] !== 'string') fail(k, `result ${id}: "${k}" must be a string`);
      if (typeof rec.durationMs !== 'number' || !Number.isFinite(rec.durationMs) || rec.durationMs < 0)
        fail('durationMs', `result ${id}: "durationMs" must be a number of milliseconds >= 0`);
      if (rec.notes !== undefined && !(Array.isArray(rec.notes) && rec.notes.every((x) => typeof x === 'string')))
        fail('notes', `result ${id}: "notes" must be a list of strings`);
      if (rec.observations !== undefined && !isObject(rec.observations))
        fail('observations', `result ${id}: "observations" must be an object`);
      if (rec.ktapNumber !== undefined && !(Number.isInteger(rec.ktapNumber) && (rec.ktapNumber as number) >= 1))
        fail('ktapNumber', `result ${id}: "ktapNumber" must be a positive integer`);
      for (const k of RESULT_OPTIONAL_STRINGS)
        if (rec[k] !== undefined && typeof rec[k] !== 'string') fail(k, `result ${id}: "${k}" must be a string`);
      const first = seen.get(id);
      if (first) fail('id', `result ${id} appears twice (first at line ${first})`);
      seen.set(id, n);
      results.push(rec as unknown as CaseResult);
    } else if (rec.type === 'end') {
      if (!run) fail('type', 'an end record before the "run" record');
      if (typeof rec.finished !== 'string') fail('finished', 'end record: "finished" must be a string');
      if (!isObject(rec.totals) || !Object.values(rec.totals).every((x) => Number.isInteger(x)))
        fail('totals', 'end record: "totals" must map verdicts to counts');
      if (!Number.isInteger(rec.exitCode)) fail('exitCode', 'end record: "exitCode" must be an integer');
      end = rec as unknown as EndRecord;
      endLine = n;
    } else fail('type', `unknown record type "${String(rec.type)}"`);
  });
  if (!run) throw new InputError(path, 1, 1, 'no "run" record: not a gmem-conformance results file');
  return { path, run, results, ...(end ? { end } : {}) };
}

/** The KTAP test number of each result: the one the run recorded (plan order), else its position in its family in file order (older files). */
export function ktapNumbers(results: readonly CaseResult[]): Map<CaseResult, number> {
  const out = new Map<CaseResult, number>();
  for (const list of resultsByFamily(results).values()) list.forEach((r, i) => out.set(r, r.ktapNumber ?? i + 1));
  return out;
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
