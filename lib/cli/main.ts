#!/usr/bin/env node
/** gmem-conformance entry point: dispatches to one module per subcommand (lib/cli/<command>.js). */
// first and alone: modules imported statically here are compiled before the cache is on
import { enableCompileCache } from './compile-cache.js';

enableCompileCache();
const { UsageError, InputError } = await import('../errors.js');

/** Subcommands and the module implementing each; every module's default export is (argv) => exit status. */
const COMMANDS: Record<string, string> = {
  run: 'run',
  list: 'list-command',
  matrix: 'matrix',
  compare: 'compare',
  qualify: 'qualify',
  import: 'import-tap',
  features: 'features',
  kernels: 'kernels',
  bisect: 'bisect',
  export: 'export',
  mutation: 'mutation',
};

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  let command = 'run';
  let rest = argv;
  if (first && !first.startsWith('-')) {
    if (!(first in COMMANDS))
      throw new UsageError(`unknown command "${first}" (commands: ${Object.keys(COMMANDS).join(', ')}; see --help)`);
    command = first;
    rest = argv.slice(1);
  }
  const mod = (await import(`./${COMMANDS[command]}.js`)) as { default: (a: string[]) => Promise<number> };
  return mod.default(rest);
}

// a closed stdout (| head) ends the command quietly, as SIGPIPE would end a C tool
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

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
