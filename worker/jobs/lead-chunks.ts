/**
 * @module A site's leads in id order with all their events, a chunk at a time: what recomputes and
 * previews walk. A cursor (the last lead id) is all it takes to resume.
 */
import { asc, inArray, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { eventsByLead, readShapes } from '../db/lead-events';
import { events, leads } from '../db/schema';
import type { EventShape } from '../scoring/event-shapes';
import type { ScoringEvent } from '../scoring/types';

/**
 * Leads per read: with their events they must fit comfortably in a Worker's memory. Each read costs
 * a round trip and a query plan, so fewer, larger reads: (time, shape) pairs are about 22 bytes.
 */
export const READ_LEADS = 5000;

export interface ChunkOptions {
  limit: number;
  eventBudget: number;
  inlineEvents: number;
}

/** A chunk stops adding leads once it holds this many events, so heavy leads make smaller chunks. */
const EVENT_BUDGET = 100_000;
/**
 * Leads with more events than this have them read apart: one lead's events travel as one text
 * value, which must stay well inside D1's 2 MB limit on a value (about 22 bytes an event).
 */
const INLINE_EVENTS = 5_000;

/** A site whose events come in more shapes than this has them read again chunk by chunk. */
const MAX_KEPT_SHAPES = 100_000;

/**
 * The next leads after `cursor` in id order, as many as `limit` and the event budget allow, with
 * their events. Per lead, SQLite packs the events' times and shape ids into one text value, read
 * from the (lead, time, shape) index alone, so a chunk of a thousand leads and ten thousand events
 * crosses from D1 as a thousand short rows, in one round trip. Shapes not yet in `shapes` are then
 * read, once per run rather than once per event.
 */
export async function readChunk(
  db: Database,
  siteId: string,
  cursor: string,
  options: Partial<ChunkOptions> = {},
  shapes: Map<number, EventShape> = new Map(),
) {
  const { limit = READ_LEADS, eventBudget = EVENT_BUDGET, inlineEvents = INLINE_EVENTS } = options;
  const ids = sql`(SELECT id FROM (
      SELECT id, sum(event_count) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) - event_count AS before
      FROM (SELECT id, event_count FROM ${leads} WHERE site_id = ${siteId} AND id > ${cursor} ORDER BY id LIMIT ${limit}))
    WHERE before < ${eventBudget})`;
  const rows = await db
    .select({
      id: leads.id,
      siteId: leads.siteId,
      email: leads.email,
      rev: leads.rev,
      score: leads.score,
      band: leads.band,
      nextChangeAt: leads.nextChangeAt,
      stage: leads.stage,
      excludedReason: leads.excludedReason,
      profile: leads.profile,
      // "times;shapes", two comma lists in the same order (both aggregates see the rows in index
      // order); '' for a lead without events, null for one whose events are read apart. Spelled out
      // in full: drizzle leaves columns of a one-table select unqualified, and inside the subquery a
      // bare "id" would be the event's.
      events: sql<string | null>`CASE WHEN leads.event_count <= ${inlineEvents} THEN (
        SELECT coalesce(group_concat(e.ts) || ';' || group_concat(e.shape_id), '')
        FROM ${events} AS e WHERE e.lead_id = leads.id) END`,
    })
    .from(leads)
    .where(inArray(leads.id, ids))
    .orderBy(asc(leads.id));
  const heavy = rows.filter((r) => r.events === null).map((r) => r.id);
  const eventsOf = heavy.length ? await eventsByLead(db, heavy) : new Map<string, ScoringEvent[]>();
  const packed = rows.flatMap(({ id, events: text }) => (text === null ? [] : [{ id, ...unpack(text) }]));
  if (shapes.size > MAX_KEPT_SHAPES) shapes.clear();
  const missing = new Set<number>();
  for (const p of packed) for (const s of p.shapeIds) if (!shapes.has(s)) missing.add(s);
  await readShapes(db, [...missing], shapes);
  for (const { id, ts, shapeIds } of packed) {
    // Ids only need to tell a lead's events apart: the engine orders by time, and events of the
    // same time that a rule counts are interchangeable for that rule.
    // A shape can only be gone if the lead was erased since the first read (an erasure deletes the
    // shapes no other event uses): the write of its new scores then fails, and the chunk is read again.
    const evs: ScoringEvent[] = [];
    ts.forEach((t, i) => {
      const s = shapes.get(shapeIds[i]!);
      if (s) evs.push({ id: String(i), ts: t, type: s.type, url: s.url, contentType: s.contentType, props: s.props, shape: s });
    });
    eventsOf.set(id, evs);
  }
  const chunk = rows.map(({ events: _, ...row }) => row);
  return { chunk, eventsOf };
}

function unpack(text: string): { ts: number[]; shapeIds: number[] } {
  if (text === '') return { ts: [], shapeIds: [] };
  const [ts, shapeIds] = text.split(';') as [string, string];
  return { ts: ts.split(',').map(Number), shapeIds: shapeIds.split(',').map(Number) };
}
