/** Escaping rules for KTAP lines: descriptions cannot hold '#', nothing may span lines, and no terminal control byte reaches stdout. */
import { visibleControls } from './markdown-escape.js';

/** A test description safe for a KTAP result line: no '#', no line breaks, no leading/trailing space. */
export function ktapDescription(s: string): string {
  return visibleControls(s.replace(/[\r\n]+/g, ' '))
    .replace(/#/g, '_')
    .trim();
}

/** Directive diagnostic text on one line (line breaks become " | "). */
export function ktapDirectiveText(s: string): string {
  return visibleControls(s.replace(/\s*[\r\n]+\s*/g, ' | ')).trim();
}

/** Splits text into KTAP diagnostic lines ("# ..."), one per input line. */
export function ktapDiagnostics(s: string): string[] {
  return s
    .split(/\r?\n/)
    .filter((l) => l.length > 0)
    .map((l) => `# ${visibleControls(l)}`);
}
