/**
 * @module A site's leads in id order with all their events, a chunk at a time: what recomputes and
 * previews walk. A cursor (the last lead id) is all it takes to resume.
 */
import { asc, inArray, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { eventsOfRows } from '../db/lead-events';
import { leads } from '../db/schema';
import type { EventShape } from '../scoring/event-shapes';

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
 * trip; the few leads whose history has pages have those read apart. Shapes not yet
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
      // For the write that follows: it finds the row by rowid (see `leads/write`).
      rowid: sql<number>`"leads"."rowid"`,
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
      historyPages: leads.historyPages,
    })
    .from(leads)
    .where(inArray(leads.id, ids))
    .orderBy(asc(leads.id));
  if (shapes.size > MAX_KEPT_SHAPES) shapes.clear();
  const eventsOf = await eventsOfRows(db, rows, shapes);
  const chunk = rows.map(({ history: _, ...row }) => row);
  return { chunk, eventsOf };
}
