/** Runs one case instance in the current process: requirements, body, cleanup, leak check, fixtures. */
import type { CaseInstance } from './case.js';
import type { CaseResult, Verdict } from './verdict.js';
import { CaseContext } from './context.js';
import { CaseFailure, CaseSkip, HarnessError } from './expect.js';
import { mergeRequires, unmetRequirement, vmTypeOf } from './requirements.js';
import type { Env } from './env.js';
import { SyscallError } from '../sys/errors.js';
import { UnexpectedExit } from '../kvm/vcpu-run.js';
import { close } from '../ffi/libc.js';
import { PINNED_LEAK_KB, leaked, pinnedKb, processResources, unmapLeaked } from './leaks.js';
import type { Expectations, Platform } from '../fixtures/expectations.js';
import type { FixtureOverrides } from './protocol.js';
import { resultOf } from './result.js';

/** The platform facts fixture rules are matched against, from an Env. */
export function platformOf(env: Env): Platform {
  return {
    kernel: env.kernel.parts,
    arch: env.arch,
    kvmModule: env.kvmModule,
    get kconfig() {
      return env.kconfig;
    },
  };
}

/** Applies a known-failure fixture: fail becomes xfail, pass becomes xpass; other verdicts stay. */
export function applyKnownFailure(r: CaseResult, fixtures: Expectations, platform: Platform): CaseResult {
  const known = fixtures.knownFailure(r.id, r.case, platform);
  if (!known) return r;
  const fix = known.fixedBy ? ` (fixed by ${known.fixedBy}${known.fixedIn ? ` in ${known.fixedIn}` : ''})` : '';
  if (r.verdict === 'fail')
    return { ...r, verdict: 'xfail', message: `${known.reason}: ${r.message}`, hint: `known failure${fix}` };
  if (r.verdict === 'pass')
    return {
      ...r,
      verdict: 'xpass',
      message: `expected to fail (${known.reason}) but passed`,
      hint: `known failure${fix}`,
    };
  if (r.verdict === 'error' || r.verdict === 'timeout')
    return { ...r, hint: r.hint ?? `known failure${fix}: ${known.reason}` };
  return r;
}

/** Unevictable kB read at the end of the previous case in this process. */
let lastPinnedKb: number | undefined;

/** Runs an instance to its verdict; never throws for anything the case or kernel does. */
export async function executeInstance(inst: CaseInstance, env: Env, fixture: FixtureOverrides): Promise<CaseResult> {
  const t0 = performance.now();
  const finish = (verdict: Verdict, message: string, extra: Partial<CaseResult> = {}): CaseResult =>
    resultOf(inst, verdict, message, Math.round((performance.now() - t0) * 1000) / 1000, extra);
  const req = mergeRequires(inst.def.requires, inst.variant?.requires);
  let unmet: string | null;
  try {
    unmet = unmetRequirement(req, env);
  } catch (e) {
    return finish('error', `requirement check broke: ${(e as Error).message}`);
  }
  if (unmet) return finish('skip', unmet);
  const before = processResources();
  // the previous case's reading of the machine's pinned memory stands for this one's start (one read per case)
  const pinnedBefore = lastPinnedKb ?? pinnedKb();
  const { values, commits } = fixture;
  const ctx = new CaseContext<unknown>({
    params: inst.variant?.params ?? {},
    env,
    vmType: vmTypeOf(req),
    ...(inst.variant ? { variant: inst.variant.name } : {}),
    ...(inst.def.expect ? { defaults: inst.def.expect } : {}),
    overrides: values,
  });
  if (commits.length) ctx.note(`expectation from fixtures (commit ${commits.join(', ')})`);
  let verdict: Verdict = 'pass';
  let message = '';
  try {
    await inst.def.run(ctx);
  } catch (e) {
    // by name as well as by class: a case module compiled in another build has its own copies of the classes
    const kind = e instanceof Error ? e.name : '';
    if (e instanceof CaseFailure || kind === 'CaseFailure') {
      verdict = 'fail';
      message = (e as Error).message;
    } else if (e instanceof CaseSkip || kind === 'CaseSkip') {
      verdict = 'skip';
      message = (e as Error).message;
    } else if (e instanceof SyscallError || kind === 'SyscallError') {
      verdict = 'fail';
      message = (e as Error).message;
    } else if (e instanceof UnexpectedExit || kind === 'UnexpectedExit') {
      verdict = 'fail';
      message = (e as Error).message;
    } else if (e instanceof HarnessError || kind === 'HarnessError') {
      verdict = 'error';
      message = (e as Error).message;
    } else {
      verdict = 'error';
      message = `case threw ${(e as Error)?.name ?? 'a non-error'}: ${(e as Error)?.message ?? String(e)}`;
    }
  }
  const cleanupErrors = ctx.cleanup();
  if (cleanupErrors.length && verdict === 'pass') {
    verdict = 'error';
    message = `cleanup failed: ${cleanupErrors.join('; ')}`;
  }
  const left = leaked(before, processResources());
  // guest_memfd and mlocked pages the case no longer holds should be gone once its fds and mappings are;
  // machine-wide, so only growth far above what a parallel case allocates is reported (as a note)
  lastPinnedKb = pinnedKb();
  const pinnedGrowth = lastPinnedKb - pinnedBefore;
  if (pinnedGrowth > PINNED_LEAK_KB)
    ctx.note(
      `machine's Unevictable memory (guest_memfd and mlocked pages) grew by ${Math.round(pinnedGrowth / 1024)} MiB across this case and was not released by its cleanup`,
    );
  const leaks: string[] = [];
  if (left.mappings.length) {
    unmapLeaked(left.mappings);
    leaks.push(`mappings ${left.mappings.join(', ')} (unmapped by the harness)`);
  }
  if (left.fds.length) {
    for (const fd of left.fds) close(fd);
    leaks.push(`fds ${left.fds.join(', ')} (closed by the harness)`);
  }
  if (leaks.length) {
    if (verdict === 'pass') {
      verdict = 'error';
      message = `case leaked ${leaks.join('; ')}`;
    } else ctx.note(`case leaked ${leaks.join('; ')}`);
  }
  const extra: Partial<CaseResult> = {};
  if (ctx.notes.length) extra.notes = ctx.notes;
  if (Object.keys(ctx.observations).length) extra.observations = ctx.observations;
  return finish(verdict, message, extra);
}
