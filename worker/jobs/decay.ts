/**
 * @module Decay over time: leads whose score decays across a band or stage boundary with no new
 * event. Scoring stores when that will happen (`next_change_at`, indexed), so each run reads only
 * the leads that are due, never the whole table.
 */
import { and, asc, getTableColumns, isNotNull, lt, lte, sql } from 'drizzle-orm';
import { database } from '../db/client';
import { eventsOfRows } from '../db/lead-events';
import { latestModel } from '../db/models';
import { leads } from '../db/schema';
import { runBatch } from '../db/statements';
import { groupBy } from '../lib/group';
import { rescore } from '../leads/rescore';
import { storedState } from '../leads/transitions';
import { isWriteConflict, leadWrites } from '../leads/write';
import { MAX_HELD_EVENTS } from './lead-chunks';

const PER_RUN = 500;

/**
 * Rescores the leads due at `now`, the earliest first, up to `PER_RUN` of them and `maxEvents`
 * events (the lead that reaches it included): the others wait for the next run. Returns how many
 * were rescored.
 */
export async function runDecay(d1: D1Database, now: number, maxEvents = MAX_HELD_EVENTS): Promise<number> {
  const db = database(d1);
  // The events before each due lead summed by a window, as a recompute's reads do (`lead-chunks`):
  // SQLite walks the due leads in the index's order, and those past the budget never leave D1.
  const due = db
    .select({
      ...getTableColumns(leads),
      before: sql<number>`sum(${leads.eventCount}) OVER (ORDER BY ${leads.nextChangeAt} ROWS UNBOUNDED PRECEDING) - ${leads.eventCount}`.as('before'),
    })
    .from(leads)
    .where(and(isNotNull(leads.nextChangeAt), lte(leads.nextChangeAt, now)))
    .orderBy(asc(leads.nextChangeAt))
    .limit(PER_RUN)
    .as('due');
  const taken = await db.select().from(due).where(lt(due.before, maxEvents));
  let done = 0;
  for (const [siteId, rows] of groupBy(taken, (l) => l.siteId)) {
    const { model, version } = await latestModel(db, siteId);
    const eventsOf = await eventsOfRows(db, rows);
    const writes = leadWrites(
      rows.map((row) => ({
        row,
        isNew: false,
        rescored: rescore(model, version, storedState(row), eventsOf(row.id), row.profile, now),
      })),
      'decay',
    );
    try {
      await runBatch(d1, writes);
      done += rows.length;
    } catch (err) {
      // A live event rescored one of them meanwhile; its next_change_at is fresh, the rest wait a run.
      if (!isWriteConflict(err)) throw err;
    }
  }
  return done;
}
