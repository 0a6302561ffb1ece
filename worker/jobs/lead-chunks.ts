/**
 * @module A site's leads in id order with all their events, a chunk at a time: what recomputes and
 * previews walk. A cursor (the last lead id) is all it takes to resume. Also how decay turns the
 * leads it read into events (`eventsOfRows`).
 */
import { asc, inArray, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { parseHistory } from '../db/lead-history';
import { eventsByLead, readShapes } from '../db/lead-events';
import { leads } from '../db/schema';
import type { EventShape } from '../scoring/event-shapes';
import type { ScoringEvent } from '../scoring/types';

/**
 * Leads per read: with their events they must fit comfortably in a Worker's memory. Each read costs
 * a round trip and a query plan, so fewer, larger reads: a history's (time, shape) pairs are about
 * 18 bytes each.
 */
export const READ_LEADS = 5000;

export interface ChunkOptions {
  limit: number;
  eventBudget: number;
}

/** A chunk stops adding leads once it holds this many events, so heavy leads make smaller chunks. */
const EVENT_BUDGET = 100_000;

/** A site whose events come in more shapes than this has them read again chunk by chunk. */
const MAX_KEPT_SHAPES = 100_000;

/**
 * The next leads after `cursor` in id order, as many as `limit` and the event budget allow, with
 * their events: each lead's packed history (see `db/lead-history`) comes with its row, so a chunk
 * of thousands of leads and tens of thousands of events is read as thousands of rows, in one round
 * trip; leads whose history is not kept in their row have their events read apart. Shapes not yet
 * in `shapes` are then read, once per run rather than once per event.
 */
export async function readChunk(
  db: Database,
  siteId: string,
  cursor: string,
  options: Partial<ChunkOptions> = {},
  shapes: Map<number, EventShape> = new Map(),
) {
  const { limit = READ_LEADS, eventBudget = EVENT_BUDGET } = options;
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
      history: leads.history,
    })
    .from(leads)
    .where(inArray(leads.id, ids))
    .orderBy(asc(leads.id));
  const eventsOf = await eventsOfRows(db, rows, shapes);
  const chunk = rows.map(({ history: _, ...row }) => row);
  return { chunk, eventsOf };
}

/**
 * The events of leads read with their `history`: unpacked from it, or read from the events table
 * for leads whose history is NULL. Shapes not yet in `shapes` are read, and kept there.
 */
export async function eventsOfRows(
  db: Database,
  rows: readonly { id: string; history: string | null }[],
  shapes: Map<number, EventShape> = new Map(),
): Promise<Map<string, ScoringEvent[]>> {
  const heavy = rows.filter((r) => r.history === null).map((r) => r.id);
  const eventsOf = heavy.length ? await eventsByLead(db, heavy) : new Map<string, ScoringEvent[]>();
  const packed = rows.flatMap(({ id, history }) => (history === null ? [] : [{ id, events: parseHistory(history) }]));
  if (shapes.size > MAX_KEPT_SHAPES) shapes.clear();
  const missing = new Set<number>();
  for (const p of packed) for (const e of p.events) if (!shapes.has(e.shapeId)) missing.add(e.shapeId);
  await readShapes(db, [...missing], shapes);
  for (const { id, events } of packed) {
    // Ids only need to tell a lead's events apart: the engine orders by time, and events of the
    // same time that a rule counts are interchangeable for that rule.
    // A shape can only be gone if the lead was erased since the first read (an erasure deletes the
    // shapes no other event uses): the write of its new scores then fails, and the chunk is read again.
    const evs: ScoringEvent[] = [];
    events.forEach(({ ts, shapeId }, i) => {
      const s = shapes.get(shapeId);
      if (s) evs.push({ id: String(i), ts, type: s.type, url: s.url, contentType: s.contentType, props: s.props, shape: s });
    });
    eventsOf.set(id, evs);
  }
  return eventsOf;
}
