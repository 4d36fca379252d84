/** Whole output files (KTAP, reports, exports) written beside the target and renamed over it, so a failure never leaves half of one. */
import { closeSync, fsyncSync, openSync, renameSync, statSync, writeSync } from 'node:fs';

/** The temporary name an output is written under until it is complete. */
export function partialPath(path: string): string {
  return `${path}.partial`;
}

/** A text output written to `FILE.partial` and renamed over FILE by commit(), so a failed or killed run leaves the old FILE whole; a device (/dev/null, a tty) is written directly. */
export class ReplacedFile {
  private fd: number;
  private readonly temp: string | null;
  /** Opens the output (the checks of cli/output-paths.ts come first); throws on an unusable path. */
  constructor(readonly path: string) {
    let device = false;
    try {
      device = !statSync(path).isFile();
    } catch {
      /* does not exist yet: a new regular file */
    }
    this.temp = device ? null : partialPath(path);
    this.fd = openSync(this.temp ?? path, 'w', 0o644);
  }
  /** Writes text (one write(2)). */
  write(text: string): void {
    writeSync(this.fd, text);
  }
  /** Done: flush and rename over the output. */
  commit(): void {
    if (this.temp) fsyncSync(this.fd);
    closeSync(this.fd);
    if (this.temp) renameSync(this.temp, this.path);
  }
  /** Interrupted: keep what was written in the partial file, leave the output as it was. */
  abandon(): void {
    closeSync(this.fd);
  }
}
