// The feature-matrix rows of the proposal features: one row per PROPOSAL_FEATURES entry, decided from the
// observation its probe case (proposal.probe.<id>) records, with the mainline meaning of the number as the cell value.
// lib/features/catalog.ts can spread these instead of keeping its own list, so the rows follow the registry.
import type { FeatureDef } from '../feature.js';
import { PROPOSAL_FEATURES, seriesOf } from './registry.js';

/** One FeatureDef per proposal feature (family 'proposal'), present only when its probe said 'present'. */
export function proposalMatrixRows(): FeatureDef[] {
  return PROPOSAL_FEATURES.map((f) => ({
    id: `proposal.${f.id}`,
    title: `${f.title} (${seriesOf(f).id})`,
    family: 'proposal',
    cases: [`proposal.probe.${f.id}`],
    observation: { key: 'state', presentWhen: ['present'] },
    valueKey: 'meaning',
  }));
}
