/**
 * @module Events with their shapes: the columns that put an event back together, the events the
 * engine needs for a set of leads (from their packed histories, or from the log), and the site's
 * shapes by id.
 */
import { and, eq, getTableColumns, inArray, isNull } from 'drizzle-orm';
import { inList, type Database } from './client';
import { eventShapes, events, leadHistoryPages, visitors } from './schema';
import type { EventShape } from '../scoring/event-shapes';
import { historyEvents, parseHistory, shapeIdsOf, type StoredEvent } from './lead-history';
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
 * Where a lead's events are in the log. Those it was sent as a lead are stored with its id
 * (`events_lead_ts`). Those its visitors sent before they identified stay as they were stored, with
 * no lead (`events_site_visitor_anon`): a visitor identifying attributes its past by linking its row
 * to the lead, one row, rather than by rewriting each of its events, two rows apiece (see `ingest`).
 * So a lead's log is the union of the two, and every reader of it takes both.
 */
export const logOfLeads = (siteId: string, leadIds: readonly string[]) => ({
  // By lead alone: a lead's id is unique, and with the site's too SQLite might walk the site's events.
  attributed: inList(events.leadId, leadIds),
  /** The lead's visitors, with the lead's id: its anonymous events' lead (`beforeIdentify`). */
  visitors: and(eq(visitors.siteId, siteId), inList(visitors.leadId, leadIds)),
  beforeIdentify: and(eq(events.siteId, visitors.siteId), eq(events.visitorId, visitors.id), isNull(events.leadId)),
});

/**
 * One lead's log as conditions on `events` alone (see `logOfLeads`), for the statements that cannot
 * join: deletes, and pages walked in an index's order (erasure and export, `leads/erase`).
 */
export function logOfLead(db: Database, siteId: string, id: string) {
  const visitorIds = db.select({ id: visitors.id }).from(visitors).where(and(eq(visitors.siteId, siteId), eq(visitors.leadId, id)));
  return {
    visitorIds,
    attributed: and(eq(events.siteId, siteId), eq(events.leadId, id)),
    beforeIdentify: and(eq(events.siteId, siteId), isNull(events.leadId), inArray(events.visitorId, visitorIds)),
  };
}

/**
 * The events of `leadIds` as the log holds them, each with the lead it counts for, one index
 * entry and row each (and a row a visitor): for what a history does not say, which visitor sent
 * what (see `ingest`).
 */
export async function loggedEvents(db: Database, siteId: string, leadIds: readonly string[]) {
  const of = logOfLeads(siteId, leadIds);
  const [attributed, before] = await db.batch([
    db.select(loggedEventColumns).from(events).innerJoin(eventShapes, shapeOfEvent).where(of.attributed),
    db
      .select({ ...loggedEventColumns, leadId: visitors.leadId })
      .from(visitors)
      .innerJoin(events, of.beforeIdentify)
      .innerJoin(eventShapes, shapeOfEvent)
      .where(of.visitors),
  ]);
  return [...attributed, ...before];
}

/** Shapes by id, added to `into`: a recompute reads each shape once, whatever its events. */
export async function readShapes(db: Database, ids: readonly number[], into: Map<number, EventShape>): Promise<void> {
  if (ids.length === 0) return;
  const rows = await db
    .select({ id: eventShapes.id, type: eventShapes.type, url: eventShapes.url, contentType: eventShapes.contentType, props: eventShapes.props })
    .from(eventShapes)
    .where(inList(eventShapes.id, ids));
  for (const { id, ...shape } of rows) into.set(id, shape);
}

/**
 * The shapes the histories' events name, into `into`: those `known` holds from there, the others
 * read, and kept in `known` too. `into` may be `known` itself (a recompute's map for its run);
 * ingest and the lead page pass the isolate's cache as `known` and a map of their own as `into`,
 * which a cache starting over cannot empty.
 */
export async function shapesOfHistories(
  db: Database,
  histories: Iterable<readonly StoredEvent[]>,
  known: Map<number, EventShape>,
  into: Map<number, EventShape>,
): Promise<void> {
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
  if (!same) for (const id of missing) if (into.has(id)) known.set(id, into.get(id)!);
}

/** A lead as read for its events: its row's history and how many pages hold the rest. */
export interface HistoryRow {
  id: string;
  history: string | null;
  historyPages: number;
}

/** The packed pages of the leads of `rows` that have some, by lead: one statement for them all, none when no lead has pages. */
async function pagesOf(db: Database, rows: readonly HistoryRow[]): Promise<Map<string, string[]>> {
  const withPages = rows.filter((r) => r.historyPages > 0).map((r) => r.id);
  if (withPages.length === 0) return new Map();
  const pages = await db
    .select({ leadId: leadHistoryPages.leadId, history: leadHistoryPages.history })
    .from(leadHistoryPages)
    .where(inList(leadHistoryPages.leadId, withPages));
  const out = new Map<string, string[]>();
  for (const { leadId, history } of pages) {
    const of = out.get(leadId);
    if (of) of.push(history);
    else out.set(leadId, [history]);
  }
  return out;
}

/** A lead's whole history: its pages' events, then its row's (`kept`). */
const wholeHistory = (kept: StoredEvent[], pages: readonly string[] | undefined): StoredEvent[] =>
  pages ? [...pages.flatMap(parseHistory), ...kept] : kept;

/**
 * Leads' stored histories, by lead: the events each row keeps, and the whole history with its
 * pages' (see `db/lead-history`), read in one statement for the few leads that have some, a row a
 * page whatever their number.
 */
export async function storedHistories(db: Database, rows: readonly HistoryRow[]): Promise<Map<string, { kept: StoredEvent[]; whole: StoredEvent[] }>> {
  const paged = await pagesOf(db, rows);
  return new Map(
    rows.map((row) => {
      const kept = parseHistory(row.history ?? '');
      return [row.id, { kept, whole: wholeHistory(kept, paged.get(row.id)) }];
    }),
  );
}

/**
 * The events of leads read with their `history`, pages and row, each lead's made when asked for:
 * a recompute's chunk scores 25,000 leads of some 250,000 events, and made at once they all lived
 * until the last lead was scored, for the garbage collector to copy and promote. Made one lead at
 * a time, they die young. Shapes the histories name that `shapes` lacks are read first, and kept
 * there.
 */
export async function eventsOfRows(
  db: Database,
  rows: readonly HistoryRow[],
  shapes: Map<number, EventShape> = new Map(),
): Promise<(leadId: string) => ScoringEvent[]> {
  const paged = await pagesOf(db, rows);
  const named = new Set<number>();
  for (const row of rows) {
    shapeIdsOf(row.history ?? '', named);
    for (const page of paged.get(row.id) ?? []) shapeIdsOf(page, named);
  }
  await readShapes(db, [...named].filter((id) => !shapes.has(id)), shapes);
  const byId = new Map(rows.map((row) => [row.id, row]));
  return (leadId) => {
    const row = byId.get(leadId);
    if (!row) return [];
    return historyEvents(wholeHistory(parseHistory(row.history ?? ''), paged.get(leadId)), shapes);
  };
}
