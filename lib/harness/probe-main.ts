/**
 * Entry point of a probe child: imports a case module and calls one exported function with args. It prints
 * PROBE-LOADED once the module is in, so that a child which could not even load (dist/ rebuilt under a run)
 * is told apart from one the kernel killed; with GMEM_PROBE_PARENT it dies with that parent (the worker).
 */
import { dieWithParent } from './parent-death.js';
import { PROBE_LOADED } from './probe-marker.js';

const [, , modulePath, fnName, argsJson] = process.argv;

function revive(_k: string, v: unknown): unknown {
  return typeof v === 'string' && /^-?\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v;
}

async function main(): Promise<void> {
  if (!modulePath || !fnName) throw new Error('usage: probe-main <module> <function> <json-args>');
  const parent = Number(process.env.GMEM_PROBE_PARENT);
  // not inherited: a child this probe starts has another parent
  delete process.env.GMEM_PROBE_PARENT;
  if (parent > 0) dieWithParent(parent);
  const mod = (await import(modulePath)) as Record<string, unknown>;
  const fn = mod[fnName];
  if (typeof fn !== 'function') throw new Error(`${modulePath} does not export a function ${fnName}`);
  process.stdout.write(`${PROBE_LOADED}\n`);
  const args = JSON.parse(argsJson ?? '[]', revive) as unknown[];
  const value = await (fn as (...a: unknown[]) => unknown)(...args);
  process.stdout.write(
    `PROBE-RESULT ${JSON.stringify(value ?? null, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(70);
  },
);
