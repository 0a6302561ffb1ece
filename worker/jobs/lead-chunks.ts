/**
 * @module A site's leads in id order with all their events, a chunk at a time: what recomputes and
 * previews walk. A cursor (the last lead id) is all it takes to resume.
 */
import { asc, inArray, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { eventsByLead } from '../db/lead-events';
import { events, leads } from '../db/schema';
import type { ScoringEvent } from '../scoring/types';

/** Leads per read: with their events they must fit comfortably in a Worker's memory. */
export const READ_LEADS = 1000;

export interface ChunkOptions {
  limit: number;
  eventBudget: number;
  inlineEvents: number;
}

/** A chunk stops adding leads once it holds this many events, so heavy leads make smaller chunks. */
const EVENT_BUDGET = 20_000;
/**
 * Leads with more events than this have them read apart: one lead's events travel as one JSON
 * value, which must stay well inside D1's 2 MB limit on a value.
 */
const INLINE_EVENTS = 5_000;

/**
 * The next leads after `cursor` in id order, as many as `limit` and the event budget allow, with
 * their events. SQLite packs each lead's events into one JSON array, so a chunk of a thousand leads
 * and ten thousand events crosses from D1 as a thousand rows, in one round trip.
 */
export async function readChunk(db: Database, siteId: string, cursor: string, options: Partial<ChunkOptions> = {}) {
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
      // Spelled out in full: drizzle leaves columns of a one-table select unqualified, and inside the
      // subquery a bare "id" would be the event's.
      events: sql<string | null>`CASE WHEN leads.event_count <= ${inlineEvents} THEN (
        SELECT json_group_array(json_array(e.id, e.type, e.ts, e.url, e.content_type, json(e.props)))
        FROM ${events} AS e WHERE e.lead_id = leads.id) END`,
    })
    .from(leads)
    .where(inArray(leads.id, ids))
    .orderBy(asc(leads.id));
  const heavy = rows.filter((r) => r.events === null).map((r) => r.id);
  const eventsOf = heavy.length ? await eventsByLead(db, heavy) : new Map<string, ScoringEvent[]>();
  const chunk = rows.map(({ events: packed, ...row }) => {
    if (packed !== null) eventsOf.set(row.id, (JSON.parse(packed) as PackedEvent[]).map(unpack));
    return row;
  });
  return { chunk, eventsOf };
}

type PackedEvent = [string, string, number, string | null, string | null, Record<string, unknown> | null];
const unpack = ([id, type, ts, url, contentType, props]: PackedEvent): ScoringEvent => ({ id, type, ts, url, contentType, props });
