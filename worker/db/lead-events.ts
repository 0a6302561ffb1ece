/**
 * @module Events with their shapes: the columns that put an event back together, the events the
 * engine needs for a set of leads (from their packed histories, or from the log), and the site's
 * shapes by id.
 */
import { eq, getTableColumns, sql } from 'drizzle-orm';
import type { Database } from './client';
import { inJson } from './client';
import { eventShapes, events, leadHistoryPages } from './schema';
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

/** A logged event as the engine sees it, with its visitor, lead and shape id: its shape's rule URL stands for its own. */
export const loggedEventColumns = {
  id: events.id,
  visitorId: events.visitorId,
  leadId: events.leadId,
  ts: events.ts,
  shapeId: events.shapeId,
  type: eventShapes.type,
  url: eventShapes.url,
  contentType: eventShapes.contentType,
  props: eventShapes.props,
};

/**
 * The events of `leadIds` as the log holds them, one index entry and row each: for what a history
 * does not say, which visitor sent what (see `ingest`).
 */
export const loggedEvents = (db: Database, leadIds: readonly string[]) =>
  db.select(loggedEventColumns).from(events).innerJoin(eventShapes, shapeOfEvent).where(inJson(events.leadId, leadIds));

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
  histories: Iterable<readonly StoredEvent[]>,
  known: ReadonlyMap<number, EventShape>,
  into: Map<number, EventShape>,
): Promise<number[]> {
  const missing = new Set<number>();
  const same = known === into;
  for (const h of histories) {
    for (const { shapeId } of h) {
      const shape = known.get(shapeId);
      if (!shape) missing.add(shapeId);
      else if (!same) into.set(shapeId, shape);
    }
  }
  await readShapes(db, [...missing], into);
  return [...missing];
}

/**
 * The stored events of leads whose older history is paged (see `db/lead-history`): their pages'
 * pairs, by lead. One row read a page, in one statement whatever the number of leads.
 */
export async function pagedEvents(db: Database, leadIds: readonly string[]): Promise<Map<string, StoredEvent[]>> {
  const out = new Map<string, StoredEvent[]>(leadIds.map((id) => [id, []]));
  if (leadIds.length === 0) return out;
  const pages = await db
    .select({ leadId: leadHistoryPages.leadId, history: leadHistoryPages.history })
    .from(leadHistoryPages)
    .where(inJson(leadHistoryPages.leadId, leadIds));
  for (const { leadId, history } of pages) out.get(leadId)!.push(...parseHistory(history));
  return out;
}

/** A lead as read for its events: its row's history and how many pages hold the rest. */
export interface HistoryRow {
  id: string;
  history: string | null;
  historyPages: number;
}

/** A lead's whole history: its pages' events, then its row's. */
export const wholeHistory = (row: Pick<HistoryRow, 'history'>, paged: readonly StoredEvent[] | undefined): StoredEvent[] => {
  const own = parseHistory(row.history ?? '');
  return paged?.length ? [...paged, ...own] : own;
};

/**
 * The events of leads read with their `history`: unpacked from it, and from their pages for the
 * few leads that have some. Shapes not yet in `shapes` are read, and kept there.
 */
export async function eventsOfRows(
  db: Database,
  rows: readonly HistoryRow[],
  shapes: Map<number, EventShape> = new Map(),
): Promise<Map<string, ScoringEvent[]>> {
  const paged = await pagedEvents(db, rows.filter((r) => r.historyPages > 0).map((r) => r.id));
  const packed = rows.map((row) => ({ id: row.id, events: wholeHistory(row, paged.get(row.id)) }));
  await shapesOfHistories(db, packed.map((p) => p.events), shapes, shapes);
  return new Map(packed.map(({ id, events }) => [id, historyEvents(events, shapes)]));
}
