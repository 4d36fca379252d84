#!/usr/bin/env node
/** gmem-conformance entry point: dispatches to one subcommand module per command. */
import { UsageError } from './usage-error.js';
import { InputError } from '../fixtures/source.js';

const COMMANDS: Record<string, () => Promise<{ default: (argv: string[]) => Promise<number> }>> = {
  run: async () => ({ default: (await import('./run.js')).runCommand }),
  list: async () => ({ default: async (argv: string[]) => (await import('./run.js')).runCommand(['--list', ...argv]) }),
};

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first && !first.startsWith('-')) {
    const load = COMMANDS[first];
    if (!load) throw new UsageError(`unknown command "${first}" (commands: ${Object.keys(COMMANDS).join(', ')}; see --help)`);
    return (await load()).default(argv.slice(1));
  }
  return (await (COMMANDS.run as () => Promise<{ default: (a: string[]) => Promise<number> }>)()).default(argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError || e instanceof InputError) {
      process.stderr.write(`gmem-conformance: ${e.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`gmem-conformance: internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 3;
    }
  },
);
