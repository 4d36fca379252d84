/** Escaping rules for text embedded in Markdown: one line, no markup, no HTML, no terminal control bytes. */

/** C0 and C1 control characters, DEL and the Unicode line/paragraph separators: never copied into a report or a terminal. */
export const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Control characters (other than tab and newline) shown as visible \xNN / \uNNNN escapes. */
export function visibleControls(s: string): string {
  return s.replace(CONTROL_CHARS, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/** Text for a Markdown paragraph, list item or table cell: one line, every character that can start markup or HTML backslash-escaped. */
export function mdText(s: string): string {
  return (
    visibleControls(String(s))
      .replace(/\s*[\r\n]+\s*/g, ' ')
      // an underscore inside a word (x86_64, size_zero) starts no emphasis in CommonMark: left as it is
      .replace(/[\\`*_[\]<>|~&]/g, (c, at: number, all: string) =>
        c === '_' && /\w/.test(all[at - 1] ?? '') && /\w/.test(all[at + 1] ?? '') ? c : `\\${c}`,
      )
      .replace(/^([#+=-])/, '\\$1')
  );
}

/** Text as Markdown inline code: one line, delimited by more backticks than it contains (CommonMark's rule). */
export function mdCode(s: string): string {
  const one = visibleControls(String(s)).replace(/[\r\n]+/g, ' ');
  const longest = Math.max(0, ...[...one.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = one.startsWith('`') || one.endsWith('`') || one === '' ? ' ' : '';
  // a table cell ends at "|" even inside code spans (GFM): keep it escaped
  return `${fence}${pad}${one.replace(/\|/g, '\\|')}${pad}${fence}`;
}
