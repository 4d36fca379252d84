// What proposal cases share: running a probe on the live kernel, the probe cases (one per feature, the matrix rows),
// and requireProposal(), which skips a proposal case with the probe's verdict unless the proposal is present.
import { defineCase, type CaseDef } from '../../harness/case.js';
import type { CaseContext } from '../../harness/context.js';
import { CaseFailure } from '../../harness/expect.js';
import { LiveKernel } from './live-kernel.js';
import { proposalFeature, seriesOf, type ProposalFeatureId } from './registry.js';
import { describeVerdict, type ProbeVerdict } from './verdict.js';
import { presentProof, type PresentProof } from './calls.js';

const cache = new Map<ProposalFeatureId, ProbeVerdict>();

/** Runs a feature's probe on the live kernel (fresh, not cached), releasing everything it opened. */
export function probeLive(id: ProposalFeatureId): ProbeVerdict {
  const k = new LiveKernel();
  try {
    return proposalFeature(id).probe(k);
  } finally {
    k.release();
  }
}

/** The live verdict for a feature, probed once per process (the kernel does not change under a run). */
export function liveVerdict(id: ProposalFeatureId): ProbeVerdict {
  let v = cache.get(id);
  if (!v) {
    v = probeLive(id);
    cache.set(id, v);
  }
  return v;
}

/** Probes the feature; skips the case as '<series> <feature> absent: <verdict>' unless present; returns the proof. */
export function requireProposal<F extends ProposalFeatureId>(ctx: CaseContext<unknown>, id: F): PresentProof<F> {
  const f = proposalFeature(id);
  const v = liveVerdict(id);
  ctx.observe('probe', v.state);
  if (v.state !== 'present') ctx.skip(`${seriesOf(f).id} ${f.title} absent: ${describeVerdict(v)}`);
  return presentProof(id, v);
}

/** The probe case of a feature: passes on a definite verdict (recorded as state/meaning), fails on contradictions. */
export function probeCase(id: ProposalFeatureId, requires: CaseDef['requires'] = {}): CaseDef {
  const f = proposalFeature(id);
  return defineCase({
    id: `proposal.probe.${id}`,
    doc: `decides whether ${f.title} (${f.proposal}) is present, absent, or its number taken by a mainline ABI, from behaviour only the proposal has`,
    requires,
    tags: { proposal: f.proposal, ...(f.seed ? { seed: f.seed } : {}) },
    run(ctx) {
      const v = probeLive(id);
      ctx.observe('state', v.state);
      if (v.meaning !== undefined) ctx.observe('meaning', v.meaning);
      ctx.observe('evidence', v.evidence);
      for (const line of v.evidence) ctx.note(line);
      if (v.state === 'inconclusive')
        throw new CaseFailure(`${f.title}: contradictory kernel answers: ${v.evidence.join('; ')}`);
      ctx.note(`${f.title}: ${v.state}${v.meaning !== undefined ? ` — ${v.meaning}` : ''}`);
    },
  });
}
