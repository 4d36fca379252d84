/** Picks the line that says why a worker or probe child died out of its stderr. */

/** What a dead process's stderr says: V8's FATAL ERROR line, else the last Error line, else the last 3 lines. */
export function crashCause(stderr: string): string {
  const lines = stderr
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const fatal = lines.find((l) => l.startsWith('FATAL ERROR:'));
  if (fatal) return fatal;
  const error = lines.filter((l) => /^\w*Error\b/.test(l)).pop();
  return error ?? lines.slice(-3).join(' | ');
}
