/**
 * @module Events with their shapes: the columns that put an event back together, the events the
 * engine needs for a set of leads (from their packed histories, or from the log), and the site's
 * shapes by id.
 */
import { eq, getTableColumns, sql } from 'drizzle-orm';
import type { Database } from './client';
import { inJson } from './client';
import { eventShapes, events } from './schema';
import type { EventShape } from '../scoring/event-shapes';
import { historyEvents, parseHistory, type StoredEvent } from './lead-history';
import type { ScoringEvent } from '../scoring/types';

/**
 * An event whole, for a select joined with its shape (`withShape`): the event's own columns, its
 * full URL included, and what its shape holds.
 */
export const eventWithShapeColumns = {
  ...getTableColumns(events),
  type: eventShapes.type,
  contentType: eventShapes.contentType,
  props: eventShapes.props,
};

/** The join every whole-event read makes. */
export const shapeOfEvent = eq(eventShapes.id, events.shapeId);

export async function eventsByLead(db: Database, leadIds: readonly string[]): Promise<Map<string, ScoringEvent[]>> {
  const rows = await db
    .select({
      leadId: events.leadId,
      id: events.id,
      ts: events.ts,
      type: eventShapes.type,
      url: eventShapes.url,
      contentType: eventShapes.contentType,
      props: eventShapes.props,
    })
    .from(events)
    .innerJoin(eventShapes, shapeOfEvent)
    .where(inJson(events.leadId, leadIds));
  const out = new Map<string, ScoringEvent[]>(leadIds.map((id) => [id, []]));
  for (const { leadId, ...e } of rows) out.get(leadId!)?.push(e);
  return out;
}

/** Shapes by id, added to `into`: a recompute reads each shape once, whatever its events. */
export async function readShapes(db: Database, ids: readonly number[], into: Map<number, EventShape>): Promise<void> {
  if (ids.length === 0) return;
  const rows = await db
    .select({ id: eventShapes.id, type: eventShapes.type, url: eventShapes.url, contentType: eventShapes.contentType, props: eventShapes.props })
    .from(eventShapes)
    .where(sql`${eventShapes.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);
  for (const { id, ...shape } of rows) into.set(id, shape);
}

/**
 * The shapes the histories' events name, into `into`: those `known` holds from there, the others
 * read. `into` may be `known` itself (a recompute's map for its run); ingest passes the isolate's
 * cache as `known` and a map of its own as `into`, which a cache starting over cannot empty.
 */
export async function shapesOfHistories(
  db: Database,
  histories: Iterable<readonly StoredEvent[] | null>,
  known: ReadonlyMap<number, EventShape>,
  into: Map<number, EventShape>,
): Promise<number[]> {
  const missing = new Set<number>();
  const same = known === into;
  for (const h of histories) {
    for (const { shapeId } of h ?? []) {
      const shape = known.get(shapeId);
      if (!shape) missing.add(shapeId);
      else if (!same) into.set(shapeId, shape);
    }
  }
  await readShapes(db, [...missing], into);
  return [...missing];
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
  await shapesOfHistories(db, packed.map((p) => p.events), shapes, shapes);
  for (const { id, events } of packed) eventsOf.set(id, historyEvents(events, shapes));
  return eventsOf;
}
