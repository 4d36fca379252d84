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

/** Worker → runner messages: ready after loading, started before a body runs, result after it. */
export type WorkerMessage =
  | { type: 'ready'; pid: number }
  | { type: 'started'; id: string }
  | { type: 'result'; result: CaseResult }
  | { type: 'fatal'; message: string };

/** Arguments the runner passes to a worker on its command line. */
export interface WorkerArgs {
  /** Directory of case modules. */ casesDir: string;
  /** Fixtures directory. */ fixturesDir: string;
  /** Whether hostUnsafe cases may run. */ allowHostUnsafe: boolean;
}
