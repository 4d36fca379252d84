/** KCIDB (KernelCI's common results database) I/O v5.3 from a results file: checkout, build, tests, known issues. */
import { readFileSync } from 'node:fs';
import type { ResultsFile } from '../harness/verdict.js';
import { resolve } from 'node:path';
import { createHash } from 'node:crypto';
import AjvModule from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import { ktapNumbers } from '../report/results-file.js';
import type { CaseResult, Verdict } from '../harness/verdict.js';
import { ktapResultDiagnostics, ktapResultLine } from '../report/ktap.js';
import { PROJECT_ROOT } from '../paths.js';
import { printable, runKey, truncate, uniqueDottedNames } from './names.js';

/** Schema version written into every document. */
export const KCIDB_VERSION = { major: 5, minor: 3 } as const;

/** The KCIDB I/O schema shipped with the suite (see data/kcidb/ORIGIN.md). */
export const KCIDB_SCHEMA_FILE = resolve(PROJECT_ROOT, 'data', 'kcidb', 'kcidb-io.schema.v5.3.json');

/** KCIDB's origin pattern: the name of the submitting CI system. */
export const ORIGIN_RE = /^[a-z0-9_]+$/;

/** KCIDB's object id pattern: "<origin>:<anything but NUL>". */
export const OBJECT_ID_RE = /^[a-z0-9_]+:[^\0]*$/;

/** KCIDB's test path pattern: dotted segments of [A-Za-z0-9_-]. */
export const PATH_RE = /^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$/;

/** A KCIDB status. */
export type KcidbStatus = 'FAIL' | 'ERROR' | 'MISS' | 'PASS' | 'DONE' | 'SKIP';

/**
 * The KCIDB status of a verdict. KCIDB statuses speak about the tested code: a known failure (xfail)
 * is still faulty code (FAIL, linked to its known issue by an incident); an unexpected pass (xpass) is
 * correct code (PASS, the incident says the issue is absent); a timeout counts as a failure, as in
 * kselftest's totals; an error is the harness's fault (ERROR).
 */
export function kcidbStatus(v: Verdict): KcidbStatus {
  switch (v) {
    case 'pass':
      return 'PASS';
    case 'xpass':
      return 'PASS';
    case 'fail':
      return 'FAIL';
    case 'xfail':
      return 'FAIL';
    case 'timeout':
      return 'FAIL';
    case 'error':
      return 'ERROR';
    case 'skip':
      return 'SKIP';
  }
}

/** What the caller knows about where the kernel came from and how to name things. */
export interface KcidbOptions {
  /** The submitting CI system, [a-z0-9_]+ (default gmem_conformance). */ origin: string;
  /** Checkout id; without "<origin>:" it is prefixed with our origin. Default: derived from the git commit or kernel release. */ checkoutId?: string;
  /** Build id, same rules. Default: derived from the checkout id and architecture. */ buildId?: string;
  /** Replaces the run key (sha256 of host, kernel, platform, start) in test ids, e.g. a CI job id. */ runId?: string;
  /** Root of the test paths (default gmem_conformance). */ pathPrefix: string;
  /** Full 40-hex commit of the kernel source. */ gitCommitHash?: string;
  /** https:// URL of the kernel's git repository. */ gitRepositoryUrl?: string;
  /** Branch of that repository. */ gitRepositoryBranch?: string;
  /** Tree name (mainline, next, kvm …). */ treeName?: string;
  /** Kernel config name of the build (defconfig, debian …). */ configName?: string;
  /** URL of the whole KTAP log of the run, attached to every test. */ logUrl?: string;
  /** Instance ids that were planned but have no result (the run was killed): reported as MISS. */ missing?: string[];
  /** The fixture entry behind an xfail/xpass (reason, fixing commit), when the fixtures are at hand. */ knownFailure?: (
    r: CaseResult,
  ) => KnownFailureInfo | null;
}

/** What the fixtures say about a known failure. */
export interface KnownFailureInfo {
  /** Why the kernel fails the case. */ reason: string;
  /** The commit that fixes it. */ fixedBy?: string;
  /** The release that has the fix. */ fixedIn?: string;
}

/** A KCIDB checkout object. */ export type KcidbCheckout = Record<string, unknown> & { id: string; origin: string };
/** A KCIDB build object. */ export type KcidbBuild = Record<string, unknown> & {
  id: string;
  origin: string;
  checkout_id: string;
};
/** A KCIDB test object. */ export type KcidbTest = Record<string, unknown> & {
  id: string;
  origin: string;
  build_id: string;
  path: string;
  status: KcidbStatus;
};

/** A KCIDB I/O document. */
export interface KcidbDocument {
  /** Schema version. */ version: { major: number; minor: number };
  /** Checkouts we own (absent when the checkout id belongs to another origin). */ checkouts?: KcidbCheckout[];
  /** Builds we own (same rule). */ builds?: KcidbBuild[];
  /** One test per case instance, plus the run as the root test. */ tests: KcidbTest[];
  /** Known failures of the fixtures, one issue each. */ issues?: Record<string, unknown>[];
  /** Links between known issues and the tests that show (xfail) or no longer show (xpass) them. */ incidents?: Record<
    string,
    unknown
  >[];
}

const LOG_EXCERPT_MAX = 16384;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** `{ start_time }` when the text is an RFC 3339 date-time, else nothing (KCIDB refuses anything else). */
function startTime(s: unknown): { start_time?: string } {
  return typeof s === 'string' && RFC3339.test(s) && !Number.isNaN(Date.parse(s)) ? { start_time: s } : {};
}

/** `{ duration }` in seconds from milliseconds, when it is a finite number. */
function duration(ms: unknown): { duration?: number } {
  return typeof ms === 'number' && Number.isFinite(ms) ? { duration: Math.max(0, ms) / 1000 } : {};
}

function ownedId(origin: string, id: string): string {
  const clean = id.replace(/\0/g, '');
  return OBJECT_ID_RE.test(clean) ? clean : `${origin}:${clean}`;
}

function originOf(id: string): string {
  return id.slice(0, id.indexOf(':'));
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

function logExcerpt(n: number, r: CaseResult): string {
  const lines = [...ktapResultDiagnostics(r), ktapResultLine(n, r)];
  if (r.signal) lines.push(`# signal: ${r.signal}`);
  return truncate(printable(lines.join('\n')), LOG_EXCERPT_MAX);
}

function caseMisc(r: CaseResult, suiteVersion: string): Record<string, unknown> {
  return {
    verdict: r.verdict,
    case: r.case,
    ...(r.variant ? { variant: r.variant } : {}),
    family: r.family,
    suite_version: suiteVersion,
    ...(r.signal ? { signal: r.signal } : {}),
    ...(r.hint ? { hint: r.hint } : {}),
    ...(r.observations && Object.keys(r.observations).length ? { observations: r.observations } : {}),
  };
}

/** The root test's status: the run's kselftest exit code, or ERROR when the run never finished. */
function runStatus(file: ResultsFile): { status: KcidbStatus; comment: string } {
  if (!file.end)
    return { status: 'ERROR', comment: 'the run did not finish (no end record: killed, or the kernel died under it)' };
  switch (file.end.exitCode) {
    case 0:
      return { status: 'PASS', comment: 'every case that ran passed (kselftest exit 0)' };
    case 4:
      return { status: 'SKIP', comment: 'every case was skipped (kselftest exit 4)' };
    default:
      return {
        status: 'FAIL',
        comment: `a case failed, errored, timed out or passed unexpectedly (kselftest exit ${file.end.exitCode})`,
      };
  }
}

/** Converts a results file into a KCIDB I/O v5.3 document. */
export function toKcidb(file: ResultsFile, o: KcidbOptions): KcidbDocument {
  const { run } = file;
  const origin = o.origin;
  const release = run.kernel.replace(/\0/g, '');
  const checkoutId = o.checkoutId
    ? ownedId(origin, o.checkoutId)
    : `${origin}:${o.gitCommitHash ? `${o.gitCommitHash}-${shortHash(release)}` : `kernel-${release}`}`;
  const buildId = o.buildId
    ? ownedId(origin, o.buildId)
    : `${origin}:${checkoutId.slice(checkoutId.indexOf(':') + 1)}-${run.arch}${o.configName ? `-${o.configName}` : ''}`;
  const key = o.runId ?? runKey(run);
  const environment = {
    comment: `${run.platform} on ${run.host}, Linux ${release}`,
    misc: {
      platform: run.platform,
      host: run.host,
      kernel: release,
      arch: run.arch,
      kvm_module: run.kvm.module ?? null,
      kvm_vm_types: run.kvm.vmTypes ?? [],
    },
  };
  const common = (path: string) => ({
    id: `${origin}:${key}:${path}`,
    origin,
    build_id: buildId,
    path,
    environment,
    ...(o.logUrl ? { log_url: o.logUrl } : {}),
  });

  const names = uniqueDottedNames([...file.results.map((r) => r.id), ...(o.missing ?? [])], o.pathPrefix);
  const rootStatus = runStatus(file);
  const tests: KcidbTest[] = [
    {
      ...common(o.pathPrefix),
      status: rootStatus.status,
      comment: `gmem-conformance ${run.suiteVersion}: ${rootStatus.comment}`,
      ...startTime(run.started),
      ...(file.end ? duration(Date.parse(file.end.finished) - Date.parse(run.started)) : {}),
      misc: {
        suite_version: run.suiteVersion,
        totals: file.end?.totals ?? null,
        exit_code: file.end?.exitCode ?? null,
        options: run.options,
        run_key: key,
      },
    },
  ];
  const issues: Record<string, unknown>[] = [];
  const incidents: Record<string, unknown>[] = [];
  const seenIssue = new Set<string>();
  const numbers = ktapNumbers(file.results);
  for (const r of file.results) {
    const n = numbers.get(r) as number;
    const path = names.get(r.id) as string;
    const test: KcidbTest = {
      ...common(path),
      status: kcidbStatus(r.verdict),
      ...duration(r.durationMs),
      log_excerpt: logExcerpt(n, r),
      misc: caseMisc(r, run.suiteVersion),
      ...(r.message ? { comment: truncate(printable(r.message), 4096) } : {}),
    };
    tests.push(test);
    if (r.verdict === 'xfail' || r.verdict === 'xpass') {
      const issueId = `${origin}:known-failure:${r.case}`;
      if (!seenIssue.has(issueId)) {
        seenIssue.add(issueId);
        const known = o.knownFailure?.(r) ?? null;
        const fix = known?.fixedBy ? `; fixed by ${known.fixedBy}${known.fixedIn ? ` in ${known.fixedIn}` : ''}` : '';
        issues.push({
          id: issueId,
          version: 0,
          origin,
          culprit: { code: true, tool: false, harness: false },
          report_subject: truncate(printable(`${r.case}: ${known?.reason ?? 'known failure'}`), 1024),
          comment: truncate(
            printable(
              `known failure of ${r.case} in the suite's fixtures: ${known?.reason ?? r.hint ?? 'no reason given'}${fix}`,
            ),
            4096,
          ),
          misc: {
            case: r.case,
            ...(known?.fixedBy ? { fixed_by: known.fixedBy } : {}),
            ...(known?.fixedIn ? { fixed_in: known.fixedIn } : {}),
            ...(r.hint ? { hint: r.hint } : {}),
          },
        });
      }
      incidents.push({
        id: `${test.id}:${issueId.slice(origin.length + 1)}`,
        origin,
        issue_id: issueId,
        issue_version: 0,
        test_id: test.id,
        present: r.verdict === 'xfail',
      });
    }
  }
  for (const id of o.missing ?? []) {
    tests.push({
      ...common(names.get(id) as string),
      status: 'MISS',
      comment: 'planned but never ran: the run ended before this case',
      misc: { verdict: null, case: id.split('@')[0], suite_version: run.suiteVersion },
    });
  }

  // objects of another origin (e.g. KernelCI's own checkout and build) are referenced, never re-submitted
  const checkouts: KcidbCheckout[] = [];
  const builds: KcidbBuild[] = [];
  if (originOf(checkoutId) === origin) {
    checkouts.push({
      id: checkoutId,
      origin,
      ...startTime(run.started),
      valid: true,
      comment: `Linux ${release}${o.gitCommitHash ? ` (${o.gitCommitHash.slice(0, 12)})` : ''}, the kernel gmem-conformance ran on`,
      ...(o.gitCommitHash ? { git_commit_hash: o.gitCommitHash } : {}),
      ...(o.gitRepositoryUrl ? { git_repository_url: o.gitRepositoryUrl } : {}),
      ...(o.gitRepositoryBranch ? { git_repository_branch: o.gitRepositoryBranch } : {}),
      ...(o.treeName ? { tree_name: o.treeName } : {}),
      misc: { kernel_release: release },
    });
  }
  if (originOf(buildId) === origin) {
    builds.push({
      id: buildId,
      origin,
      checkout_id: checkoutId,
      architecture: run.arch.toLowerCase().replace(/[^a-z0-9_]/g, '_'),
      status: 'PASS',
      ...startTime(run.started),
      comment: `Linux ${release} for ${run.arch}: booted and ran the suite (a prebuilt kernel; gmem-conformance did not build it)`,
      ...(o.configName ? { config_name: o.configName } : {}),
      misc: { kernel_release: release },
    });
  }
  return {
    version: { ...KCIDB_VERSION },
    ...(checkouts.length ? { checkouts } : {}),
    ...(builds.length ? { builds } : {}),
    tests,
    ...(issues.length ? { issues } : {}),
    ...(incidents.length ? { incidents } : {}),
  };
}

/** One schema violation: where in the document and what is wrong. */
export interface SchemaProblem {
  /** JSON pointer into the document. */ at: string;
  /** The validator's message. */ message: string;
}

type Validator = ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
const compiled = new Map<string, Validator>();

/** Validates data against a JSON schema file (JSON Schema 2020-12 with formats); an empty list means valid. */
export function validateAgainstSchema(data: unknown, schemaFile = KCIDB_SCHEMA_FILE): SchemaProblem[] {
  let validate = compiled.get(schemaFile);
  if (!validate) {
    const Ajv2020 = AjvModule.default;
    const addFormats = formatsModule.default;
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(ajv);
    validate = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')) as object) as Validator;
    compiled.set(schemaFile, validate);
  }
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e) => ({ at: e.instancePath || '/', message: e.message ?? 'invalid' }));
}
