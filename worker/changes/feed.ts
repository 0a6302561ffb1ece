/**
 * @module Reading the transitions of a site after a sequence number, with their leads.
 *
 * `seq` numbers a site's changes in the order they were committed (see `db/transition-seq`), so
 * paging by `seq > after` never skips nor repeats a change, whatever is being written meanwhile.
 * What an erasure left in place of a change is passed over.
 */
import { and, asc, eq, gt, ne } from 'drizzle-orm';
import type { Database } from '../db/client';
import { leads, transitions } from '../db/schema';
import { ERASED } from '../db/transition-seq';
import { toChangeItem } from './item';

export const changesAfter = (db: Database, siteId: string, after: number, limit: number) =>
  db
    .select({
      t: transitions,
      lead: { id: leads.id, email: leads.email, profile: leads.profile, score: leads.score, band: leads.band, stage: leads.stage },
    })
    .from(transitions)
    .leftJoin(leads, eq(leads.id, transitions.leadId))
    .where(and(eq(transitions.siteId, siteId), gt(transitions.seq, after), ne(transitions.type, ERASED)))
    .orderBy(asc(transitions.seq))
    .limit(limit);

export type ChangeRow = Awaited<ReturnType<typeof changesAfter>>[number];

export const itemOf = (r: ChangeRow) => toChangeItem(r.t, r.lead);
