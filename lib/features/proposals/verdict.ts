// What a proposal probe concludes, and the small vocabulary probes use to build it.

/**
 * present: the kernel shows the behaviour only the proposal has.
 * absent: it does not, and the proposal's number means nothing else here (or cannot be reached).
 * number-taken: it does not; the number is used by a mainline ABI (named in `meaning`).
 * inconclusive: the answers contradict each other (neither the proposal nor the mainline meaning
 *   explains them) — a probe case fails on it, proposal cases skip.
 */
export type ProbeState = 'present' | 'absent' | 'number-taken' | 'inconclusive';

/** A probe's decision with the answers that led to it. */
export interface ProbeVerdict {
  /** The decision. */ readonly state: ProbeState;
  /** What the number means on this kernel when it is not the proposal, e.g. 'MFD_NOEXEC_SEAL (6.3+)'. */ readonly meaning?: string;
  /** One line per kernel answer that mattered, in the order they were asked. */ readonly evidence: readonly string[];
}

/** Collects evidence lines while a probe asks the kernel, then closes with a verdict. */
export class Evidence {
  /** The lines so far. */ readonly lines: string[] = [];
  /** Adds a line; returns this for chaining. */
  add(line: string): this {
    this.lines.push(line);
    return this;
  }
  /** The proposal's behaviour was seen. */
  present(): ProbeVerdict {
    return { state: 'present', evidence: this.lines };
  }
  /** Neither the proposal nor another meaning of its number; `meaning` says what the number is here, if anything. */
  absent(meaning?: string): ProbeVerdict {
    return meaning === undefined
      ? { state: 'absent', evidence: this.lines }
      : { state: 'absent', meaning, evidence: this.lines };
  }
  /** The number belongs to a mainline ABI. */
  taken(meaning: string): ProbeVerdict {
    return { state: 'number-taken', meaning, evidence: this.lines };
  }
  /** Contradictory answers: says why in a last line. */
  inconclusive(why: string): ProbeVerdict {
    this.lines.push(`contradiction: ${why}`);
    return { state: 'inconclusive', evidence: this.lines };
  }
}

/** One line for skip reasons and notes: 'number taken by MFD_NOEXEC_SEAL (6.3+) [evidence; evidence]'. */
export function describeVerdict(v: ProbeVerdict): string {
  const head =
    v.state === 'number-taken'
      ? `number taken by ${v.meaning ?? '?'}`
      : v.state === 'absent'
        ? `not present${v.meaning ? `; the number: ${v.meaning}` : ''}`
        : v.state === 'inconclusive'
          ? 'contradictory kernel answers'
          : 'present';
  return `${head} [${v.evidence.join('; ')}]`;
}
