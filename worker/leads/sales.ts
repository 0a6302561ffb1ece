/**
 * @module What sales do to a lead: move it to a later stage, recycle it to nurturing, and say how
 * it went. Each stage change is a transition like any other.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { z } from 'zod';
import type { Database } from '../db/client';
import { OUTCOMES } from '../quality/outcomes';
import { feedback, leads, transitions } from '../db/schema';
import { fromDrizzle, runBatch, type Statement } from '../db/statements';
import { newestSeq } from '../db/transition-seq';
import { ApiError } from '../lib/errors';
import type { Stage } from '../scoring/model';
import { stageRank } from '../scoring/stages';
import { conflictGuard, untilWritten, type LeadRow } from './write';

/** `recycled` sends the lead back to nurturing at stage `lead`. */
export const SALES_STAGES = ['sql', 'opportunity', 'customer', 'recycled'] as const;

export const SalesUpdate = z
  .strictObject({
    stage: z.enum(SALES_STAGES).optional(),
    feedback: z
      .strictObject({
        fit: z.enum(['good', 'bad']).optional(),
        /**
         * How the lead ended: `won`, `lost`, `bad_fit` (not a buyer for us: counts as a false
         * positive when the model called it hot), `not_reached` (never got hold of them: says
         * nothing of the lead, left out of the model's evaluation). Reaching `customer` is `won`.
         */
        outcome: z.enum(OUTCOMES).optional(),
        note: z.string().min(1).max(2000).optional(),
      })
      .refine((f) => f.fit || f.outcome || f.note, 'give at least one of fit, outcome, note')
      .optional(),
  })
  .refine((u) => u.stage || u.feedback, 'give a stage, feedback, or both');
export type SalesUpdate = z.infer<typeof SalesUpdate>;

/**
 * What a sales update changes in the lead's row, or null when it leaves the row as it is: feedback
 * alone, or a move to the stage the lead already has. A recycling is always a change, and dated.
 * A move to an earlier stage is refused: a lead goes back only by being recycled, which starts its
 * way up again (see `scoreLead`), so that no stage is left without a transition that says why.
 */
function salesChange(row: LeadRow, update: SalesUpdate, now: number): Pick<LeadRow, 'stage' | 'updatedAt' | 'recycledAt'> | null {
  const stage = update.stage === 'recycled' ? 'lead' : update.stage;
  if (update.stage === 'recycled' && row.stage === 'prospect') {
    // Recycling sends a lead back to `lead`: a prospect would be moved up by it, not back.
    throw new ApiError(409, 'not_recyclable', 'the lead is a prospect: it has not reached the lead stage, so there is no nurturing to send it back to');
  }
  if (update.stage !== 'recycled' && stage && stageRank(stage) < stageRank(row.stage as Stage)) {
    throw new ApiError(409, 'stage_not_later', `the lead is at ${row.stage}: sales move a lead to a later stage, or recycle it to nurturing`);
  }
  if (!stage || (stage === row.stage && update.stage !== 'recycled')) return null;
  return { stage, updatedAt: now, recycledAt: update.stage === 'recycled' ? now : row.recycledAt };
}

/**
 * The statements of a sales update, guarded by the row read, and the row as they leave it: the guard
 * holds the lead to that row, so the row after is it with the update's change, no read after.
 */
export function salesWrites(db: Database, row: LeadRow, update: SalesUpdate, by: string, now: number): { statements: Statement[]; after: LeadRow } {
  const out: BatchItem<'sqlite'>[] = [];
  const change = salesChange(row, update, now);
  if (change) {
    out.push(
      db
        .update(leads)
        .set({ ...change, rev: sql`${leads.rev} + 1` })
        .where(eq(leads.id, row.id)),
      db.insert(transitions).values({
        siteId: row.siteId,
        seq: sql`${newestSeq(row.siteId)} + 1`,
        leadId: row.id,
        type: 'lead.stage_changed',
        fromValue: row.stage,
        toValue: change.stage,
        reason: update.stage === 'recycled' ? 'recycled to nurturing' : null,
        cause: 'sales',
        at: now,
      }),
    );
  }
  if (update.feedback) {
    out.push(db.insert(feedback).values({ siteId: row.siteId, leadId: row.id, ...update.feedback, createdAt: now, createdBy: by }));
  }
  return { statements: [conflictGuard([row]), ...out.map(fromDrizzle)], after: change ? { ...row, ...change, rev: row.rev + 1 } : row };
}

/**
 * Applies a sales update to the site's lead: the lead as it is after, or null when the site has no
 * such lead. Redone from a fresh read when the lead changed between read and write (a live event,
 * a recompute), as `untilWritten` does.
 */
export async function applySalesUpdate(db: Database, siteId: string, id: string, update: SalesUpdate, by: string): Promise<LeadRow | null> {
  return untilWritten(async () => {
    const [row] = await db.select().from(leads).where(and(eq(leads.siteId, siteId), eq(leads.id, id)));
    if (!row) return null;
    const { statements, after } = salesWrites(db, row, update, by, Date.now());
    await runBatch(db.$client, statements);
    return after;
  });
}
