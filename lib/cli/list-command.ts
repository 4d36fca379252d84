/** `list`: the same as `run --list`. */
import { runCommand } from './run.js';

/** Lists cases (accepts run's selection options and --json). */
export default function listCommand(argv: string[]): Promise<number> {
  return runCommand(['--list', ...argv]);
}
