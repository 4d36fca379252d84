/** Turning the suite's dotted ids (`gmem.create.size_zero@noflags`) into the names other systems accept. */
import { createHash } from 'node:crypto';
import type { RunRecord } from '../harness/verdict.js';

/** The segments of an instance id: its dotted parts, then the variant (after `@`) as one more segment. */
export function idSegments(id: string): string[] {
  const at = id.indexOf('@');
  const base = at < 0 ? id : id.slice(0, at);
  const variant = at < 0 ? null : id.slice(at + 1);
  return [...base.split('.'), ...(variant === null ? [] : [variant])];
}

/** One path segment made of [A-Za-z0-9_-] only (anything else becomes "_"; empty becomes "_"). */
export function safeSegment(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
}

/** A dotted name whose segments match [A-Za-z0-9_-]+: KCIDB test paths, LAVA test case ids, JUnit-friendly. */
export function dottedName(id: string, prefix?: string): string {
  return [...(prefix ? [prefix] : []), ...idSegments(id)].map(safeSegment).join('.');
}

/**
 * Dotted names for a list of ids, unique even when two ids sanitise alike (`a.b@c` and `a.b.c`):
 * a later duplicate gets `_2`, `_3` … appended to its last segment.
 */
export function uniqueDottedNames(ids: string[], prefix?: string): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<string>();
  for (const id of ids) {
    if (out.has(id)) continue;
    const base = dottedName(id, prefix);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
    taken.add(name);
    out.set(id, name);
  }
  return out;
}

/** A short stable key of a run (host, kernel, platform, start time): the same results file always gives the same ids. */
export function runKey(run: RunRecord): string {
  return createHash('sha256')
    .update([run.host, run.kernel, run.platform, run.arch, run.started].join('\0'))
    .digest('hex')
    .slice(0, 16);
}

/** Text without NUL and without the control characters XML 1.0 forbids (tab, LF, CR stay). */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  // control bytes, the two non-characters and lone surrogates (none of them can be in XML 1.0 or valid UTF-8)
  return s.replace(
    /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** At most `max` UTF-16 units, cut on a character boundary, with a marker saying how much was dropped. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const marker = `\n[… ${s.length} characters, cut to ${max}]`;
  let cut = max - marker.length;
  const code = s.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--; // do not split a surrogate pair
  return s.slice(0, cut) + marker;
}
