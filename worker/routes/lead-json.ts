/** @module How a lead is shown by the API: one shape for lists and for the detail view. */
import type { LeadRow } from '../db/leads';

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
