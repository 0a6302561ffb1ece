/**
 * @module Recomputing every lead of a site after a model change, in chunks of leads taken in id
 * order. A run holds a lease on the job and renews it each chunk; a run that dies leaves a lease
 * that expires, and the cron resumes the job from its cursor. Each chunk is one read of leads, one
 * of their events, and one write batch that also moves the cursor.
 */
import { and, asc, count, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import { database, type Database } from '../db/client';
import { eventsByLead } from '../db/lead-events';
import { modelVersion } from '../db/models';
import { events, leads, recomputes } from '../db/schema';
import { randomToken } from '../lib/ids';
import { rescore } from '../leads/rescore';
import type { StoredState } from '../leads/transitions';
import { isWriteConflict, leadWrites } from '../leads/write';
import type { Stage } from '../scoring/model';
import type { ScoringEvent } from '../scoring/types';

export type RecomputeRow = typeof recomputes.$inferSelect;

/** Leads per chunk: their events must fit one Worker's memory and one batch's time comfortably. */
export const CHUNK_LEADS = 1000;
const LEASE_MS = 60_000;

/** The statements that start a recompute of a site at a model version and supersede older ones. */
export async function recomputeStart(db: Database, siteId: string, version: number, now: number) {
  const [{ total } = { total: 0 }] = await db.select({ total: count() }).from(leads).where(eq(leads.siteId, siteId));
  const row: RecomputeRow = {
    id: `rc_${randomToken(16)}`,
    siteId,
    modelVersion: version,
    status: 'running',
    cursor: '',
    total,
    processed: 0,
    changed: 0,
    leaseUntil: null,
    startedAt: now,
    updatedAt: now,
    finishedAt: null,
  };
  return {
    row,
    statements: [
      db
        .update(recomputes)
        .set({ status: 'superseded', finishedAt: now, updatedAt: now, leaseUntil: null })
        .where(and(eq(recomputes.siteId, siteId), eq(recomputes.status, 'running'))),
      db.insert(recomputes).values(row),
    ] as const,
  };
}

/** Claims the job if nobody holds it (or the holder's lease expired); the lease value is the token. */
async function claim(db: Database, id: string, now: number): Promise<RecomputeRow | null> {
  const [job] = await db
    .update(recomputes)
    .set({ leaseUntil: now + LEASE_MS + (parseInt(randomToken(3), 36) % 1000) })
    .where(and(eq(recomputes.id, id), eq(recomputes.status, 'running'), or(isNull(recomputes.leaseUntil), lt(recomputes.leaseUntil, now))))
    .returning();
  return job ?? null;
}

/**
 * Works on the job until it is done or `deadline` (ms) passes; returns the job as last written.
 * Safe to call from several places at once: only the holder of the lease writes.
 */
export async function runRecompute(
  d1: D1Database,
  id: string,
  deadline: number,
  {
    chunkLeads = CHUNK_LEADS,
    maxChunks = Infinity,
    eventBudget = EVENT_BUDGET,
    inlineEvents = INLINE_EVENTS,
  }: { chunkLeads?: number; maxChunks?: number; eventBudget?: number; inlineEvents?: number } = {},
): Promise<RecomputeRow | null> {
  const db = database(d1);
  let job = await claim(db, id, Date.now());
  if (!job) return null;
  const model = await modelVersion(db, job.siteId, job.modelVersion);
  if (!model) throw new Error(`recompute ${id}: model version ${job.modelVersion} is missing`);
  for (let chunks = 0; chunks < maxChunks && Date.now() < deadline; chunks++) {
    const now = Date.now();
    const { chunk, eventsOf } = await chunkAfter(db, job.siteId, job.cursor, { limit: chunkLeads, eventBudget, inlineEvents });
    const lease = job.leaseUntil!;
    if (chunk.length === 0) {
      const [done] = await db
        .update(recomputes)
        .set({ status: 'done', finishedAt: now, updatedAt: now, leaseUntil: null })
        .where(and(eq(recomputes.id, id), eq(recomputes.leaseUntil, lease)))
        .returning();
      return done ?? job;
    }
    const scored = chunk.map((row) => {
      const before: StoredState = { band: row.band, stage: row.stage as Stage, excludedReason: row.excludedReason };
      return { row, isNew: false as const, rescored: rescore(model, job!.modelVersion, before, eventsOf.get(row.id) ?? [], row.profile, now) };
    });
    const changed = scored.filter((s) => s.rescored.transitions.length).length;
    const next = {
      cursor: chunk[chunk.length - 1]!.id,
      processed: job.processed + chunk.length,
      changed: job.changed + changed,
      updatedAt: now,
      leaseUntil: now + LEASE_MS,
    };
    try {
      const results = await db.batch([
        ...leadWrites(db, scored, 'recompute'),
        db
          .update(recomputes)
          .set(next)
          .where(and(eq(recomputes.id, id), eq(recomputes.status, 'running'), eq(recomputes.leaseUntil, lease)))
          .returning(),
      ] as unknown as Parameters<typeof db.batch>[0]);
      const moved = results[results.length - 1] as RecomputeRow[];
      if (!moved[0]) return null; // superseded, or another run took the job over
      job = moved[0];
    } catch (err) {
      // A lead of the chunk changed under us (a live event): read the chunk again.
      if (!isWriteConflict(err)) throw err;
    }
  }
  return job;
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
async function chunkAfter(
  db: Database,
  siteId: string,
  cursor: string,
  { limit, eventBudget, inlineEvents }: { limit: number; eventBudget: number; inlineEvents: number },
) {
  const ids = sql`(SELECT id FROM (
      SELECT id, sum(event_count) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) - event_count AS before
      FROM (SELECT id, event_count FROM ${leads} WHERE site_id = ${siteId} AND id > ${cursor} ORDER BY id LIMIT ${limit}))
    WHERE before < ${eventBudget})`;
  const rows = await db
    .select({
      id: leads.id,
      siteId: leads.siteId,
      rev: leads.rev,
      band: leads.band,
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

/** Recompute jobs whose holder died or never started: for the cron to resume. */
export function orphanedRecomputes(db: Database, now: number) {
  return db
    .select({ id: recomputes.id })
    .from(recomputes)
    .where(and(eq(recomputes.status, 'running'), or(isNull(recomputes.leaseUntil), lt(recomputes.leaseUntil, now))))
    .limit(10);
}
