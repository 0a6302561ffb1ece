/**
 * @module Everything held about a lead, as one JSON document (`GET /v1/leads/{id}/export`): the
 * lead, its visitors, transitions, feedback, webhook deliveries with their attempts, and every event.
 *
 * Size. All but the events is small (a lead has a handful of visitors, and transitions and
 * deliveries by the dozen) and is read in one batch, with the events' count and their first page:
 * a lead of up to `FIRST_PAGE` events is exported from that one read, a consistent snapshot. The
 * events are what can grow (a robot that identified can have 100,000), so the document is streamed:
 * the rest of the events are read page after page, in (time, id) order down the (lead, ts) index,
 * as the client reads, and memory holds one page. Pages grow with the count so that an export takes
 * at most about `MAX_READS` reads, within the 50 D1 queries a Worker invocation gets on the Free
 * plan. Past `MAX_EVENTS` the pages would no longer fit in memory: the export is refused with a 413
 * before anything is sent. 100,000 events of a few hundred bytes are 40 reads of 2,500 and about
 * 30 MB of JSON.
 *
 * Events written while the document streams may or may not be in it; `eventCount` is the count
 * when it began. A read that fails mid-way ends the stream with an error, so the file is cut short
 * and does not parse: never a document that looks whole and is not.
 */
import { and, asc, count, eq, inArray, max, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/client';
import { deliveries, deliveryAttempts, eventShapes, events, feedback, leads, transitions, visitors } from '../db/schema';
import { eventWithShapeColumns, shapeOfEvent } from '../db/lead-events';
import { bySeq, changesOfLeads } from '../db/lead-transitions';
import { groupBy } from '../lib/group';
import { changeId } from '../changes/item';
import { ApiError } from '../lib/errors';
import { leadSummary, transitionJson } from './lead-json';
import { deliveryJson } from '../webhooks/delivery-json';
import { ofLead } from './erase';

/** Events read with the rest of the lead, in the first batch. */
export const FIRST_PAGE = 1000;
/** Reads of later pages an export aims to stay within. */
export const MAX_READS = 40;
/** Above this, pages of `MAX_EVENTS / MAX_READS` events would hold too much in memory. */
export const MAX_EVENTS = 200_000;

/** An event whole: its own columns (the full URL among them) and its shape's. */
type EventRow = typeof events.$inferSelect & { type: string; contentType: string | null; props: Record<string, unknown> | null };

const eventJson = (e: EventRow, leadId: string) => ({
  id: e.id,
  type: e.type,
  ts: e.ts,
  visitor: e.visitorId,
  /**
   * The lead's, for every event of its export: those its visitors sent before they identified are
   * stored without a lead and count for it by their visitor (see `db/lead-events`).
   */
  leadId,
  url: e.url,
  title: e.title,
  referrer: e.referrer,
  contentType: e.contentType,
  props: e.props,
  receivedAt: e.receivedAt,
});

export interface LeadExport {
  lead: typeof leads.$inferSelect;
  /** The document, streamed; read it once. */
  body: ReadableStream<Uint8Array>;
}

export interface ExportLimits {
  firstPage: number;
  maxReads: number;
  maxEvents: number;
}

/** The lead's export, or null when the site has no such lead; 413 when it has too many events. */
export async function exportLead(
  db: Database,
  siteId: string,
  id: string,
  now: number,
  limits: ExportLimits = { firstPage: FIRST_PAGE, maxReads: MAX_READS, maxEvents: MAX_EVENTS },
): Promise<LeadExport | null> {
  const of = ofLead(db, { id, siteId });
  // Two runs of events: those stored with the lead's id by (ts, id), and those its visitors sent
  // before they identified, stored without one, by (visitor, ts, id); each the order of an index
  // (`events_lead_ts`, `events_site_visitor_anon`), so a page never sorts the rest. An event's id
  // is unique in its site and none of these columns ever changes, so the last row of a page is a
  // cursor that neither skips nor repeats an event stored before the export began.
  const attributed = {
    where: of.attributedEvents,
    order: [asc(events.ts), asc(events.id)],
    after: (e: EventRow) => sql`(${events.ts}, ${events.id}) > (${e.ts}, ${e.id})`,
  };
  const anonymous = {
    where: of.anonymousEvents,
    order: [asc(events.visitorId), asc(events.ts), asc(events.id)],
    after: (e: EventRow) => sql`(${events.visitorId}, ${events.ts}, ${events.id}) > (${e.visitorId}, ${e.ts}, ${e.id})`,
  };
  const page = (run: typeof attributed, size: number, after?: SQL) =>
    db
      .select(eventWithShapeColumns)
      .from(events)
      .innerJoin(eventShapes, shapeOfEvent)
      .where(and(run.where, after))
      .orderBy(...run.order)
      .limit(size);

  const changes = changesOfLeads(siteId, [id]);
  const [[lead], visitorRows, lastSeenRows, otherChanges, stageChanges, feedbackRows, deliveryRows, attemptRows, [attributedCount], [anonymousCount], firstAttributed, firstAnonymous] =
    await db.batch([
      db.select().from(leads).where(and(eq(leads.siteId, siteId), eq(leads.id, id))),
      db.select().from(visitors).where(and(eq(visitors.siteId, siteId), eq(visitors.leadId, id))).orderBy(asc(visitors.firstSeen)),
      // A lead's visitor's row is not written for its page views (ingest paces it by its lead's
      // history): when it was last seen is its events'.
      db.select({ visitorId: events.visitorId, last: max(events.ts) }).from(events).where(of.attributedEvents).groupBy(events.visitorId),
      db.select().from(transitions).where(changes.others).orderBy(asc(transitions.seq)),
      db.select().from(transitions).where(changes.stages).orderBy(asc(transitions.seq)),
      db.select().from(feedback).where(and(eq(feedback.siteId, siteId), eq(feedback.leadId, id))).orderBy(asc(feedback.seq)),
      db.select().from(deliveries).where(of.deliveries).orderBy(asc(deliveries.seq)),
      db.select().from(deliveryAttempts).where(inArray(deliveryAttempts.deliveryId, of.deliveryIds)).orderBy(asc(deliveryAttempts.seq)),
      db.select({ n: count() }).from(events).where(attributed.where),
      db.select({ n: count() }).from(events).where(anonymous.where),
      page(attributed, limits.firstPage),
      page(anonymous, limits.firstPage),
    ]);
  if (!lead) return null;
  const eventCount = (attributedCount?.n ?? 0) + (anonymousCount?.n ?? 0);
  if (eventCount > limits.maxEvents) {
    throw new ApiError(
      413,
      'export_too_large',
      `this lead has ${eventCount} events; an export holds at most ${limits.maxEvents} (erasing it works whatever its size)`,
    );
  }
  const size = Math.max(limits.firstPage, Math.ceil(eventCount / limits.maxReads));

  const attemptsOf = groupBy(attemptRows, (a) => a.deliveryId);
  const lastSeen = new Map(lastSeenRows.map((r) => [r.visitorId, r.last ?? 0]));
  const head = {
    exportedAt: now,
    lead: {
      ...leadSummary(lead),
      modelVersion: lead.modelVersion,
      eventCount: lead.eventCount,
      nextChangeAt: lead.nextChangeAt,
    },
    visitors: visitorRows.map((v) => ({ id: v.id, firstSeen: v.firstSeen, lastSeen: Math.max(v.lastSeen, lastSeen.get(v.id) ?? v.lastSeen) })),
    transitions: bySeq(otherChanges, stageChanges).map((t) => ({ id: changeId(t.seq), ...transitionJson(t) })),
    feedback: feedbackRows.map((f) => ({ fit: f.fit, outcome: f.outcome, note: f.note, at: f.createdAt, by: f.createdBy })),
    deliveries: deliveryRows.map((d) => ({ webhookId: d.webhookId, ...deliveryJson(d, attemptsOf.get(d.id) ?? []) })),
    /** Attributed and anonymous events, counted when the export began. */
    eventCount,
  };

  async function* chunks(): AsyncGenerator<string> {
    // The head as one JSON object, reopened for the events: they come last, as they are read.
    yield `${JSON.stringify(head).slice(0, -1)},"events":[`;
    let comma = '';
    for (const [run, first] of [
      [attributed, firstAttributed],
      [anonymous, firstAnonymous],
    ] as const) {
      let rows = first;
      let asked = limits.firstPage;
      for (;;) {
        if (rows.length) {
          yield comma + rows.map((e) => JSON.stringify(eventJson(e, id))).join(',');
          comma = ',';
        }
        if (rows.length < asked) break;
        asked = size;
        rows = await page(run, size, run.after(rows[rows.length - 1]!));
      }
    }
    yield ']}';
  }
  return { lead, body: streamOf(chunks()) };
}

/** A byte stream pulled from text chunks: the next chunk is made only when the client wants it. */
function streamOf(chunks: AsyncGenerator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await chunks.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(value));
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}
