/** @module The transitions a re-score causes: what nurturing tools are told through the feed. */
import type { leads } from '../db/schema';
import type { Model, Stage } from '../scoring/model';
import type { LeadScore } from '../scoring/types';

export type TransitionType = 'lead.band_changed' | 'lead.stage_changed' | 'lead.excluded' | 'lead.included';

export interface Transition {
  type: TransitionType;
  from: string | null;
  to: string | null;
  reason: string | null;
  branch: string | null;
}

export interface StoredState {
  band: string | null;
  stage: Stage;
  excludedReason: string | null;
  /** When sales last recycled the lead (see `scoreLead`). */
  recycledAt: number | null;
  /** The decay job's stored wake-up, which a rescore keeps when it may (see `nextWake`). */
  nextChangeAt: number | null;
}

/** A stored lead's state, as its row has it: what its rescore starts from and is compared with. */
export const storedState = (row: Pick<typeof leads.$inferSelect, 'band' | 'stage' | 'excludedReason' | 'recycledAt' | 'nextChangeAt'>): StoredState => ({
  band: row.band,
  stage: row.stage as Stage,
  excludedReason: row.excludedReason,
  recycledAt: row.recycledAt,
  nextChangeAt: row.nextChangeAt,
});

const branchOf = (model: Model, band: string | null) => model.bands.find((b) => b.name === band)?.branch ?? null;

/**
 * Compares a lead's stored state (null for a new lead) with its new score. A lead entering a band,
 * new or included again, gets the band's branch to run; a lead leaving for exclusion gets none.
 */
export function transitionsBetween(model: Model, before: StoredState | null, after: LeadScore): Transition[] {
  const out: Transition[] = [];
  const wasExcluded = before !== null && before.excludedReason !== null;
  const oldBand = before?.band ?? null;
  if (after.exclusion && !wasExcluded) {
    out.push({ type: 'lead.excluded', from: oldBand, to: null, reason: after.exclusion.reason, branch: null });
  } else if (!after.exclusion && wasExcluded) {
    out.push({ type: 'lead.included', from: null, to: after.band, reason: null, branch: branchOf(model, after.band) });
  } else if (!after.exclusion && oldBand !== after.band) {
    out.push({ type: 'lead.band_changed', from: oldBand, to: after.band, reason: null, branch: branchOf(model, after.band) });
  }
  const oldStage = before?.stage ?? null;
  if (oldStage !== after.stage && !(oldStage === null && after.stage === 'prospect')) {
    out.push({ type: 'lead.stage_changed', from: oldStage, to: after.stage, reason: null, branch: null });
  }
  return out;
}
