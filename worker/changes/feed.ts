/**
 * @module Reading the transitions of a site after a sequence number, with their leads.
 *
 * `seq` is SQLite's AUTOINCREMENT and D1 runs one write transaction at a time, so a transaction's
 * rows are numbered after every row committed before it and no reader sees seq n+1 before seq n
 * exists. Paging by `seq > after` therefore never skips nor repeats a change, whatever is being
 * written meanwhile.
 */
import { and, asc, eq, gt } from 'drizzle-orm';
import type { Database } from '../db/client';
import { leads, transitions } from '../db/schema';
import { toChangeItem } from './item';

export const changesAfter = (db: Database, siteId: string, after: number, limit: number) =>
  db
    .select({
      t: transitions,
      lead: { id: leads.id, email: leads.email, profile: leads.profile, score: leads.score, band: leads.band, stage: leads.stage },
    })
    .from(transitions)
    .leftJoin(leads, eq(leads.id, transitions.leadId))
    .where(and(eq(transitions.siteId, siteId), gt(transitions.seq, after)))
    .orderBy(asc(transitions.seq))
    .limit(limit);

export type ChangeRow = Awaited<ReturnType<typeof changesAfter>>[number];

export const itemOf = (r: ChangeRow) => toChangeItem(r.t, r.lead);
