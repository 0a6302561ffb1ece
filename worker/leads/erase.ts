/**
 * @module Erasing a lead (`DELETE /v1/leads/{id}`): everything personal held about it goes in one
 * guarded D1 batch, so that it is gone whole or not at all.
 *
 * Erased: the lead (profile, scores, band, stage; its search entry goes with it, by the
 * `leads_search_delete` trigger, and its trigrams with FTS5's secure-delete), the visitors that
 * identified as it, every event of it (those stored with its id, and those its visitors sent before
 * they identified, stored without one), its transitions (so the changes feed and the webhooks skip
 * them; the site's newest change, if it was the lead's, is left blank in its place, see
 * `db/transition-seq`), sales' feedback, and its webhook deliveries with their attempts, delivered
 * ones too since their payload holds the e-mail. Kept: aggregates that name nobody (the segment
 * counters, decremented here; `band_daily`; a trigger's member count; the model and its recomputes'
 * counts).
 */
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { fromDrizzle, runBatch, type Statement } from '../db/statements';
import { deliveries, deliveryAttempts, eventShapes, events, feedback, leads, transitions, visitors, webhooks } from '../db/schema';
import { counterWrites } from '../segments/counters';
import { logOfLead } from '../db/lead-events';
import { changesOfLeads, seqsOfLead } from '../db/lead-transitions';
import { ERASED, newestSeq } from '../db/transition-seq';
import { conflictGuard, untilWritten, type LeadRow } from './write';

/** What erasing needs of the stored lead: its `rev` for the guard, its place for the counters. */
export type ErasedLead = Pick<LeadRow, 'id' | 'siteId' | 'rev' | 'band'>;

/**
 * The lead's visitors, transitions and deliveries, as subqueries: every statement of the batch
 * finds its rows by an index, whatever the size of the site.
 */
export function ofLead(db: Database, { id, siteId }: Pick<LeadRow, 'id' | 'siteId'>) {
  const log = logOfLead(db, siteId, id);
  const transitionSeqs = seqsOfLead(siteId, id);
  // A delivery is one transition sent to one subscription: (webhook, transition) is its unique
  // index, so this finds the lead's deliveries without reading the rest of the log.
  const delivered = and(
    inArray(deliveries.webhookId, db.select({ id: webhooks.id }).from(webhooks).where(eq(webhooks.siteId, siteId))),
    sql`${deliveries.transitionSeq} IN (${transitionSeqs})`,
    eq(deliveries.leadId, id),
  );
  return {
    visitorIds: log.visitorIds,
    transitionSeqs,
    deliveries: delivered,
    deliveryIds: db.select({ id: deliveries.id }).from(deliveries).where(delivered),
    /** Events its visitors sent before they identified: stored without a lead, they are its by their visitor (see `db/lead-events`). */
    anonymousEvents: log.beforeIdentify,
    attributedEvents: log.attributed,
  };
}

/**
 * Deletes the shapes of the lead's events that no other event uses: a URL path or a property may
 * name the person. Shapes others use stay: they are the site's pages and properties, and name
 * nobody once the events are gone. Run before the events are deleted, so that the lead's shapes
 * can still be found from them.
 *
 * Without an index on `shape_id` (one more index entry written per event stored), "no other
 * event" is answered by one pass over the (lead, time, shape) index of every attributed event and
 * the site's anonymous index: erasure, a rare request, pays for what ingest does not.
 */
function orphanedShapes(db: Database, lead: ErasedLead, of: ReturnType<typeof ofLead>) {
  const candidates = sql`SELECT shape_id FROM ${events} WHERE lead_id = ${lead.id}
    UNION SELECT shape_id FROM ${events} WHERE site_id = ${lead.siteId} AND lead_id IS NULL AND visitor_id IN (${of.visitorIds})`;
  return db.delete(eventShapes).where(sql`${eventShapes.id} IN (${candidates})
    AND ${eventShapes.id} NOT IN (SELECT shape_id FROM ${events} INDEXED BY events_lead_ts
      WHERE lead_id IS NOT NULL AND lead_id <> ${lead.id} AND shape_id IN (${candidates}))
    AND ${eventShapes.id} NOT IN (SELECT shape_id FROM ${events} INDEXED BY events_site_visitor_anon
      WHERE site_id = ${lead.siteId} AND lead_id IS NULL AND (visitor_id IS NULL OR visitor_id NOT IN (${of.visitorIds})) AND shape_id IN (${candidates}))`);
}

/**
 * The lead's changes deleted, but for the site's newest if it is one of them: that one is left
 * blank, no lead and no values, so that its number is never handed out again (see
 * `db/transition-seq`). Blanks an earlier erasure left go, now that a newer change stands after them.
 */
function changeDeletes(db: Database, lead: ErasedLead) {
  const { others, stages } = changesOfLeads(lead.siteId, [lead.id]);
  const blanks = changesOfLeads(lead.siteId, ['']).others;
  const newest = newestSeq(lead.siteId);
  return [
    db
      .update(transitions)
      .set({ leadId: '', type: ERASED, fromValue: null, toValue: null, reason: null, branch: null, cause: 'erasure' })
      .where(and(eq(transitions.siteId, lead.siteId), eq(transitions.seq, newest), eq(transitions.leadId, lead.id))),
    db.delete(transitions).where(others),
    db.delete(transitions).where(stages),
    db.delete(transitions).where(and(blanks, lt(transitions.seq, newest))),
  ];
}

/**
 * The batch. The guard comes first: a writer that changed the lead since it was read (new events,
 * a new visitor identified, a move across bands) fails it, and the caller reads again, so the
 * counters are decremented where the lead counts now and nothing written meanwhile is left behind.
 * The lead's visitors are deleted before the lead, whose removal would set their `lead_id` to null.
 */
export function erasureWrites(db: Database, lead: ErasedLead): Statement[] {
  const of = ofLead(db, lead);
  return [
    conflictGuard([lead]),
    ...counterWrites([{ siteId: lead.siteId, before: { band: lead.band }, after: null }]),
    ...[
      db.delete(deliveryAttempts).where(inArray(deliveryAttempts.deliveryId, of.deliveryIds)),
      db.delete(deliveries).where(of.deliveries),
      ...changeDeletes(db, lead),
      db.delete(feedback).where(and(eq(feedback.siteId, lead.siteId), eq(feedback.leadId, lead.id))),
      orphanedShapes(db, lead, of),
      db.delete(events).where(of.anonymousEvents),
      db.delete(events).where(of.attributedEvents),
      db.delete(visitors).where(and(eq(visitors.siteId, lead.siteId), eq(visitors.leadId, lead.id))),
    ].map(fromDrizzle),
    // The lead's search entry goes with it (the `leads_search_delete` trigger), but by default FTS5
    // only marks an entry deleted and leaves its trigrams in the index until its segments merge.
    // `secure-delete` removes them at once; it is a lasting option of the index, so from the first
    // erasure on, every delete and profile change of the index is secure too. Setting it again costs
    // one row.
    { sql: `INSERT INTO lead_search (lead_search, rank) VALUES ('secure-delete', 1)`, params: [] },
    fromDrizzle(db.delete(leads).where(and(eq(leads.siteId, lead.siteId), eq(leads.id, lead.id)))),
  ];
}

/** Erases the lead; false when the site has no such lead. Redone from a fresh read on a conflict. */
export function eraseLead(db: Database, siteId: string, id: string): Promise<boolean> {
  return untilWritten(async () => {
    const [lead] = await db
      .select({ id: leads.id, siteId: leads.siteId, rev: leads.rev, band: leads.band })
      .from(leads)
      .where(and(eq(leads.siteId, siteId), eq(leads.id, id)));
    if (!lead) return false;
    await runBatch(db.$client, erasureWrites(db, lead));
    return true;
  });
}
