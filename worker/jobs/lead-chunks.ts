/**
 * @module A site's leads in id order with all their events, a chunk at a time: what recomputes and
 * previews walk. A cursor (the last lead id) is all it takes to resume.
 */
import { and, asc, eq, gt, lt, sql } from 'drizzle-orm';
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

/** A subquery's columns, as its own (read through it), to select them again from it. */
const columnsOf = <S extends { _: { selectedFields: Record<string, unknown> } }>(subquery: S) =>
  Object.fromEntries(Object.keys(subquery._.selectedFields).map((key) => [key, subquery[key as keyof S]])) as S['_']['selectedFields'];

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
  // One pass over the leads' rows: the next `limit` in id order with the events before each summed
  // by a window (SQLite streams it in the index's order and stops at the limit), those within the
  // budget kept. D1 counts a row read at each level a row goes through: 3 a lead, where picking the
  // ids first and then reading the rows by id counted 5. Sorted here rather than by SQL, whose
  // sorter would copy every row and its history once more: the rows come in id order already.
  const next = db
    .select({
      // For the write that follows: it finds the row by rowid (see `leads/write`).
      rowid: sql<number>`"leads"."rowid"`.as('rid'),
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
      before: sql<number>`sum(${leads.eventCount}) OVER (ORDER BY ${leads.id} ROWS UNBOUNDED PRECEDING) - ${leads.eventCount}`.as('before'),
    })
    .from(leads)
    .where(and(eq(leads.siteId, siteId), gt(leads.id, cursor)))
    .orderBy(asc(leads.id))
    .limit(limit)
    .as('next');
  const { before, ...wanted } = columnsOf(next);
  const rows = (await db.select(wanted).from(next).where(lt(before, eventBudget))).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (shapes.size > MAX_KEPT_SHAPES) shapes.clear();
  const eventsOf = await eventsOfRows(db, rows, shapes);
  const chunk = rows.map(({ history: _, ...row }) => row);
  return { chunk, eventsOf };
}
