/**
 * @module Decay over time: leads whose score decays across a band or stage boundary with no new
 * event. Scoring stores when that will happen (`next_change_at`, indexed), so each run reads only
 * the leads that are due, never the whole table.
 */
import { and, asc, isNotNull, lte } from 'drizzle-orm';
import { database } from '../db/client';
import { eventsOfRows } from '../db/lead-events';
import { latestModel } from '../db/models';
import { leads } from '../db/schema';
import { runBatch } from '../db/statements';
import { groupBy } from '../lib/group';
import { rescore } from '../leads/rescore';
import { isWriteConflict, leadWrites } from '../leads/write';
import type { Stage } from '../scoring/model';

const PER_RUN = 500;

/** Rescores the leads due at `now`; returns how many were rescored. */
export async function runDecay(d1: D1Database, now: number): Promise<number> {
  const db = database(d1);
  const due = await db
    .select()
    .from(leads)
    .where(and(isNotNull(leads.nextChangeAt), lte(leads.nextChangeAt, now)))
    .orderBy(asc(leads.nextChangeAt))
    .limit(PER_RUN);
  let done = 0;
  for (const [siteId, rows] of groupBy(due, (l) => l.siteId)) {
    const { model, version } = await latestModel(db, siteId);
    const eventsOf = await eventsOfRows(db, rows);
    const writes = leadWrites(
      rows.map((row) => ({
        row,
        isNew: false,
        rescored: rescore(model, version, { band: row.band, stage: row.stage as Stage, excludedReason: row.excludedReason }, eventsOf(row.id), row.profile, now),
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
