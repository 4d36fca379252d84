/** Where the suite's own directories are, relative to the compiled code. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (the directory holding package.json). */
export const PROJECT_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** The fixtures directory shipped with the suite. */
export const DEFAULT_FIXTURES_DIR = resolve(PROJECT_ROOT, 'fixtures');

/** Default results file of a run. */
export const DEFAULT_RESULTS = resolve(PROJECT_ROOT, 'results', 'latest.jsonl');
