/** A worker process: loads the cases once, then runs instances the runner sends, one at a time. */
import { loadModuleInstances } from './registry.js';
import { executeInstance } from './execute.js';
import { env } from './env.js';
import { dieWithParent } from './parent-death.js';
import type { RunMessage, WorkerArgs, WorkerMessage } from './protocol.js';
import type { CaseInstance } from './case.js';

function send(m: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => process.send?.(m, undefined, undefined, (e) => (e ? reject(e) : resolve())));
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as WorkerArgs;
  // a SIGKILLed runner closes our IPC channel, but a case blocked in the kernel would never see it
  dieWithParent(args.runnerPid);
  const e = env();
  e.allowHostUnsafe = args.allowHostUnsafe;
  const byId = new Map<string, CaseInstance>();
  const loaded = new Set<string>();
  void e.kvm; // open /dev/kvm before the first case so it is not counted as that case's leak
  let queue = Promise.resolve();
  process.on('message', (m: RunMessage) => {
    queue = queue.then(async () => {
      if (!loaded.has(m.module)) {
        try {
          for (const i of await loadModuleInstances(m.module)) byId.set(i.id, i);
        } catch (err) {
          // a module that does not load (dist/ rebuilt under the run, a syntax error) is the harness's
          // failure, never the kernel's: the runner reports it as an error and replaces this worker
          const message = `harness: cannot load case module ${m.module}: ${(err as Error).message}`;
          await send({ type: 'fatal', message });
          return;
        }
        loaded.add(m.module);
      }
      const inst = byId.get(m.id);
      if (!inst) {
        await send({ type: 'fatal', message: `worker has no case ${m.id}` });
        return;
      }
      let result;
      try {
        result = await executeInstance(inst, e, m.fixture);
      } catch (err) {
        // the harness's own code failed around the case (e.g. EMFILE in the leak check): the worker's
        // state is unknown, so say why and let the runner replace it
        await send({ type: 'fatal', message: `harness failed running ${m.id}: ${(err as Error).message}` });
        return;
      }
      await send({ type: 'result', result });
    });
  });
  process.on('disconnect', () => process.exit(0));
  // a Ctrl-C reaches the whole process group: the runner decides (it stops us), so a terminal's SIGINT
  // or SIGHUP is never mistaken for a case that crashed
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  await send({ type: 'ready', pid: process.pid });
}

main().catch(async (err: unknown) => {
  try {
    await send({ type: 'fatal', message: (err as Error).stack ?? String(err) });
  } finally {
    process.exit(70);
  }
});
