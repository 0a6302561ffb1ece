/** @module How a lead is shown by the API: one shape for lists and for the detail view. */
import type { LeadRow } from '../db/leads';
import type { transitions } from '../db/schema';

export function leadSummary(row: LeadRow) {
  return {
    id: row.id,
    email: row.email,
    profile: row.profile,
    scores: { fit: row.fit, activity: row.activity, engagement: row.engagement },
    score: row.score,
    band: row.band,
    stage: row.stage,
    excluded: row.excludedReason === null ? null : { reason: row.excludedReason },
    lastEventAt: row.lastEventAt,
    recycledAt: row.recycledAt,
    scoredAt: row.scoredAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** A transition as a lead's timeline and its export show it. */
export const transitionJson = (t: typeof transitions.$inferSelect) => ({
  type: t.type,
  from: t.fromValue,
  to: t.toValue,
  reason: t.reason,
  branch: t.branch,
  cause: t.cause,
  at: t.at,
});
