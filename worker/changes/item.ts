/**
 * @module One change as nurturing tools see it: the same JSON in the feed (`GET /v1/changes`) and in
 * the `data` of a webhook, so a Zapier or n8n flow can switch between polling and hooks unchanged.
 */
import { z } from 'zod';
import type { leads, transitions } from '../db/schema';

export const CHANGE_TYPES = ['lead.band_changed', 'lead.stage_changed', 'lead.excluded', 'lead.included', 'branch.triggered'] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

/** The profile properties a flow needs to address the lead; the rest is one API call away. */
const SUMMARY_KEYS = ['firstName', 'lastName', 'company', 'jobTitle', 'country'] as const;

export const ChangeItem = z.object({
  /** Stable and unique per site: what polling triggers deduplicate on. */
  id: z.string(),
  type: z.enum(CHANGE_TYPES),
  /** When the change was recorded, ms since epoch, and the same as an ISO string. */
  at: z.number().int(),
  occurredAt: z.string(),
  /** The lead as it is now (null once erased). */
  lead: z
    .object({
      id: z.string(),
      email: z.string(),
      profile: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
      score: z.number(),
      band: z.string().nullable(),
      stage: z.string(),
    })
    .nullable(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  /** The nurturing branch to run now, if the change calls for one. */
  branch: z.string().nullable(),
  reason: z.string().nullable(),
  /** `event`, `recompute`, `decay`, `sales` or `trigger`. */
  cause: z.string(),
});
export type ChangeItem = z.infer<typeof ChangeItem>;

type TransitionRow = typeof transitions.$inferSelect;
type LeadPart = Pick<typeof leads.$inferSelect, 'id' | 'email' | 'profile' | 'score' | 'band' | 'stage'>;

export const changeId = (seq: number) => `chg_${seq}`;

export function toChangeItem(t: TransitionRow, lead: LeadPart | null): ChangeItem {
  const profile: Record<string, string | number | boolean> = {};
  for (const k of SUMMARY_KEYS) if (lead?.profile[k] !== undefined) profile[k] = lead.profile[k];
  return {
    id: changeId(t.seq),
    type: t.type as ChangeType,
    at: t.at,
    occurredAt: new Date(t.at).toISOString(),
    lead: lead?.id ? { id: lead.id, email: lead.email, profile, score: lead.score, band: lead.band, stage: lead.stage } : null,
    from: t.fromValue,
    to: t.toValue,
    branch: t.branch,
    reason: t.reason,
    cause: t.cause,
  };
}
