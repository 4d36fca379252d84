/** Reading a guest's serial console log: kernel panics, oopses and warnings, with an excerpt around the first one. */
import { visibleControls } from '../report/markdown-escape.js';

/** What the console shows went wrong in the kernel. */
export interface ConsoleFindings {
  /** "Kernel panic - not syncing: …" line, when the kernel panicked. */ panic: string | null;
  /** First Oops/BUG line, when the kernel oopsed. */ oops: string | null;
  /** Number of WARNING: lines (kernel warnings). */ warnings: number;
  /** Console lines around the first panic/oops (or the last lines when there is none). */ excerpt: string;
}

const PANIC = /Kernel panic - not syncing.*/;
const OOPS =
  /(Oops:|BUG: |kernel BUG at|general protection fault|Unable to handle kernel|unable to handle page fault).*/;
const WARN = /WARNING: CPU: \d+ PID: \d+/g;

/** Scans a console log. The excerpt holds 10 lines before the first oops/panic and up to 40 after, at most 6 KiB. */
export function scanConsole(text: string, tailLines = 40): ConsoleFindings {
  const lines = text.replace(/\r/g, '').split('\n');
  const panic = PANIC.exec(text)?.[0] ?? null;
  const oops = OOPS.exec(text)?.[0] ?? null;
  const warnings = (text.match(WARN) ?? []).length;
  const firstBad = lines.findIndex((l) => OOPS.test(l) || PANIC.test(l));
  const slice = firstBad >= 0 ? lines.slice(Math.max(0, firstBad - 10), firstBad + 40) : lines.slice(-tailLines);
  // the excerpt is printed on a terminal and copied into reports: a guest's escape sequences stay visible, never active
  let excerpt = slice.map(visibleControls).join('\n').trimEnd() || '(the console log is empty)';
  if (excerpt.length > 6144) excerpt = `${excerpt.slice(0, 6144)}\n[…]`;
  return { panic: panic && visibleControls(panic), oops: oops && visibleControls(oops), warnings, excerpt };
}
