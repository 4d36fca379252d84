/** Paths and small utilities shared by the project's own unit tests. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

/** The project root. */
export const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** The compiled CLI entry point. */
export const CLI = resolve(fileURLToPath(new URL('../lib/cli/main.js', import.meta.url)));

/** Compiled misbehaving cases used to test the harness. */
export const HARNESS_CASES = resolve(fileURLToPath(new URL('./harness-cases', import.meta.url)));

/** Runs the CLI synchronously and returns status, stdout and stderr. */
export function cli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...(opts.env ?? {}) }, timeout: opts.timeoutMs ?? 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}
