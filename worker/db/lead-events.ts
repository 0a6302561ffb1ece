/**
 * @module Events with their shapes: the columns that put an event back together, the events the
 * engine needs for a set of leads, and the site's shapes by id.
 */
import { eq, getTableColumns, sql } from 'drizzle-orm';
import type { Database } from './client';
import { inJson } from './client';
import { eventShapes, events } from './schema';
import type { EventShape } from '../scoring/event-shapes';
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
