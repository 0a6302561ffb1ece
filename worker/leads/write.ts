/**
 * @module The statements that store a rescored lead, for a caller's D1 batch. Every writer of
 * lead scores goes through here, so every one is guarded the same way against lost updates.
 */
import { and, eq, ne, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { chunksFor, type Database } from '../db/client';
import { leads, transitions, writeConflicts } from '../db/schema';
import type { Rescored } from './rescore';

export type LeadRow = typeof leads.$inferSelect;
export type Cause = 'event' | 'recompute' | 'decay' | 'sales';

/**
 * Insert (new lead) or update (existing lead, only if its `rev` is still the one read: otherwise
 * the guard insert fails the whole batch and the caller redoes its work from a fresh read).
 */
export function leadWrites(
  db: Database,
  lead: { row: LeadRow; isNew: boolean },
  rescored: Rescored,
  cause: Cause,
  extra: Partial<LeadRow> = {},
): BatchItem<'sqlite'>[] {
  const out: BatchItem<'sqlite'>[] = [];
  const { row } = lead;
  if (lead.isNew) {
    out.push(db.insert(leads).values({ ...row, ...extra, ...rescored.values }));
  } else {
    out.push(
      conflictGuard(db, row),
      db
        .update(leads)
        .set({ ...extra, ...rescored.values, rev: sql`${leads.rev} + 1` })
        .where(eq(leads.id, row.id)),
    );
  }
  const rows = rescored.transitions.map((t) => ({
    siteId: row.siteId,
    leadId: row.id,
    type: t.type,
    fromValue: t.from,
    toValue: t.to,
    reason: t.reason,
    branch: t.branch,
    cause,
    at: rescored.values.scoredAt,
  }));
  for (const chunk of chunksFor(rows, 10)) out.push(db.insert(transitions).values(chunk));
  return out;
}

/** Fails its batch when the lead's `rev` is no longer `row.rev`: see `writeConflicts`. */
export const conflictGuard = (db: Database, row: Pick<LeadRow, 'id' | 'rev'>) =>
  db
    .insert(writeConflicts)
    .select(db.select({ leadId: leads.id }).from(leads).where(and(eq(leads.id, row.id), ne(leads.rev, row.rev))));

/** A concurrent writer got there first: a lead changed since read, or the same new e-mail was created. */
export function isWriteConflict(err: unknown): boolean {
  const text = `${String(err)} ${err instanceof Error && err.cause ? String(err.cause) : ''}`;
  return /CHECK constraint failed: write_conflict|UNIQUE constraint failed: leads\./.test(text);
}
