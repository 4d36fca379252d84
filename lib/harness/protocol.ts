/** Messages between the runner and its worker processes (sent over the IPC channel). */
import type { CaseResult } from './verdict.js';

/** Runner → worker: run one instance. */
export interface RunMessage {
  /** Message kind. */ type: 'run';
  /** Instance id. */ id: string;
  /** URL of the case module that defines it (the worker imports only the modules it is sent). */ module: string;
  /** Fixture overrides of its expectations on this platform, and the commits they cite. */ fixture: FixtureOverrides;
}

/** What the fixtures say about one instance's expectations on this platform. */
export interface FixtureOverrides {
  /** Expectation values replacing the case's defaults. */ values: Record<string, unknown>;
  /** Commits the overriding rules cite. */ commits: string[];
}

/** Worker → runner messages: ready once started, a result per instance, fatal when the harness itself broke. */
export type WorkerMessage =
  | { type: 'ready'; pid: number }
  | { type: 'result'; result: CaseResult }
  | { type: 'fatal'; message: string };

/** Arguments the runner passes to a worker on its command line. */
export interface WorkerArgs {
  /** Whether hostUnsafe cases may run: the runner's Env.allowHostUnsafe, for the worker's Env. */
  allowHostUnsafe: boolean;
  /** The runner's pid: a worker whose parent is no longer this process exits (parent-death.ts). */
  runnerPid: number;
}
