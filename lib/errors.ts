/**
 * The suite's input errors, one module below every layer: both end a command with exit status 2
 * (kselftest's "bad command line or bad input"), the CLI prints them as "gmem-conformance: <message>".
 */

/** A bad command line (unknown option, bad value). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A positioned input error: file, line and column (1-based) plus what is wrong there. */
export class InputError extends Error {
  /** File the error is in. */ readonly file: string;
  /** 1-based line, 0 when unknown. */ readonly line: number;
  /** 1-based column, 0 when unknown. */ readonly col: number;
  constructor(file: string, line: number, col: number, what: string) {
    super(`${file}${line ? `:${line}:${col}` : ''}: ${what}`);
    this.name = 'InputError';
    this.file = file;
    this.line = line;
    this.col = col;
  }
}
