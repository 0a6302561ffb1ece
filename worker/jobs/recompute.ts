/**
 * @module Recomputing every lead of a site after a model change, in chunks of leads taken in id
 * order. A run holds a lease on the job and renews it each chunk; a run that dies leaves a lease
 * that expires, and the cron resumes the job from its cursor. A chunk is read `READ_LEADS` leads at
 * a time, each read bringing their events along (see `lead-chunks`), and written in one batch that
 * also moves the cursor.
 */
import { and, count, eq, isNull, lt, or } from 'drizzle-orm';
import { database, type Database } from '../db/client';
import { modelVersion } from '../db/models';
import { leads, recomputes } from '../db/schema';
import { randomToken } from '../lib/ids';
import { fromDrizzle, runBatch } from '../db/statements';
import { rescore } from '../leads/rescore';
import { storedState } from '../leads/transitions';
import { isWriteConflict, leadWrites } from '../leads/write';
import { EVENT_BUDGET, MAX_HELD_EVENTS, READ_LEADS, readChunk, type ChunkOptions } from './lead-chunks';
import type { EventShape } from '../scoring/event-shapes';

export type RecomputeRow = typeof recomputes.$inferSelect;

/**
 * Leads per chunk at most, written in one batch that stays far inside a batch's time and size
 * limits. A moved lead's new score and next change land anywhere in their indexes, so every chunk
 * rewrites most of those indexes' pages whatever its size, and fewer, larger chunks write them fewer
 * times: the bench's recompute of 100,000 leads took 5.3–5.9 s in chunks of 10,000, 4.5–4.8 s in
 * chunks of 25,000 and 4.4–5.4 s in chunks of 50,000 (three runs each, one session). Not larger:
 * live writes wait while a chunk's batch holds the database (about 0.7 s for 25,000 leads locally),
 * and a chunk a live event lands in is redone at half the size.
 */
export const CHUNK_LEADS = 25_000;

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
 *
 * D1 runs one statement at a time, so a read sent while a write runs waits for it, and reading
 * ahead cannot use the write's time: scoring can. Each chunk is read before the previous one's
 * write is sent, then scored while D1 works on that write. (The run before read ahead instead,
 * and a timeline of the bench showed that read queued behind the write, the Worker idle through
 * it.) Locally this gains nothing: workerd runs the local D1 on the Worker's own thread, and the
 * write took as much longer as the scoring beside it lasted. A chunk read past a write that then
 * fails is thrown away and read again.
 */
export async function runRecompute(
  d1: D1Database,
  id: string,
  deadline: number,
  {
    chunkLeads = CHUNK_LEADS,
    chunkEvents = MAX_HELD_EVENTS,
    maxChunks = Infinity,
    beforeWrite,
    ...reading
  }: {
    chunkLeads?: number;
    chunkEvents?: number;
    maxChunks?: number;
    /** Called between scoring a chunk and writing it: where tests make a live event land. */
    beforeWrite?: () => Promise<void>;
  } & Partial<ChunkOptions> = {},
): Promise<RecomputeRow | null> {
  const db = database(d1);
  const claimed = await claim(db, id, Date.now());
  if (!claimed) return null;
  let job: RecomputeRow = claimed;
  const model = await modelVersion(db, job.siteId, job.modelVersion);
  if (!model) throw new Error(`recompute ${id}: model version ${job.modelVersion} is missing`);

  // The site's shapes as read so far: kept for the whole run, as shape ids are never reused.
  const shapes = new Map<number, EventShape>();
  const perRead = reading.limit ?? READ_LEADS;
  const perReadEvents = reading.eventBudget ?? EVENT_BUDGET;
  /**
   * The leads after `cursor`, up to `size` and `chunkEvents` events (the lead that reaches it
   * included), with their events, in reads of `perRead` leads.
   */
  const gather = async (cursor: string, size: number) => {
    const reads = [];
    for (let n = 0, events = 0; n < size && events < chunkEvents; ) {
      const limits = { limit: Math.min(perRead, size - n), eventBudget: Math.min(perReadEvents, chunkEvents - events) };
      const read = await readChunk(db, job.siteId, cursor, limits, shapes);
      if (read.chunk.length === 0) break;
      reads.push(read);
      n += read.chunk.length;
      for (const lead of read.chunk) events += lead.eventCount;
      cursor = read.chunk[read.chunk.length - 1]!.id;
    }
    return reads;
  };
  const score = (reads: Awaited<ReturnType<typeof gather>>, now: number) =>
    reads.flatMap(({ chunk, eventsOf }) =>
      chunk.map((row) => ({ row, isNew: false as const, rescored: rescore(model, job.modelVersion, storedState(row), eventsOf(row.id), row.profile, now) })),
    );
  type Scored = ReturnType<typeof score>;

  /** Stores a chunk and moves the job's cursor past it, in one batch: the job as written, null when it is no longer ours. */
  const store = async (from: RecomputeRow, scored: Scored, now: number) => {
    const next = {
      cursor: scored[scored.length - 1]!.row.id,
      processed: from.processed + scored.length,
      changed: from.changed + scored.filter((s) => s.rescored.transitions.length).length,
      updatedAt: now,
      leaseUntil: now + LEASE_MS,
    };
    try {
      const moveOn = db
        .update(recomputes)
        .set(next)
        .where(and(eq(recomputes.id, id), eq(recomputes.status, 'running'), eq(recomputes.leaseUntil, from.leaseUntil!)));
      const results = await runBatch(d1, [...leadWrites(scored, 'recompute'), fromDrizzle(moveOn)]);
      // No row moved on: superseded, or taken over.
      return results[results.length - 1]!.meta.changes ? { ...from, ...next } : null;
    } catch (err) {
      // A lead of the chunk changed under us (a live event): the chunk is read again.
      if (isWriteConflict(err)) return 'conflict' as const;
      throw err;
    }
  };

  // The chunk scored and not yet written, at the time it was scored at.
  let pending: { scored: Scored; now: number } | null = null;
  let cursor = job.cursor;
  let size = chunkLeads;
  for (let chunks = 0; ; chunks++) {
    const stopping = chunks >= maxChunks || Date.now() >= deadline;
    const reads = stopping ? [] : await gather(cursor, size);
    if (pending) await beforeWrite?.();
    const writing = pending && store(job, pending.scored, pending.now);
    const now = Date.now();
    const scored = score(reads, now);
    if (writing) {
      const written = await writing;
      pending = null;
      if (written === null) return null;
      if (written === 'conflict') {
        cursor = job.cursor;
        // Read and scored again at half the size: on a busy site a large chunk may rarely get
        // through untouched by live events, a smaller one will. Success doubles it back.
        size = Math.max(1, Math.floor(size / 2));
        continue;
      }
      job = written;
      size = Math.min(chunkLeads, size * 2);
    }
    if (stopping) {
      // Handing the job on: the next slice (the queue message sent after this one) must be able to
      // claim it at once, not a lease later. Only a run that dies leaves its lease to expire.
      const [released] = await db
        .update(recomputes)
        .set({ leaseUntil: null })
        .where(and(eq(recomputes.id, id), eq(recomputes.leaseUntil, job.leaseUntil!)))
        .returning();
      return released ?? job;
    }
    if (scored.length === 0) {
      // Stamped now, the last chunk stored: `now` was taken as its write was sent.
      const finishedAt = Date.now();
      const [done] = await db
        .update(recomputes)
        .set({ status: 'done', finishedAt, updatedAt: finishedAt, leaseUntil: null })
        .where(and(eq(recomputes.id, id), eq(recomputes.leaseUntil, job.leaseUntil!)))
        .returning();
      return done ?? job;
    }
    pending = { scored, now };
    cursor = scored[scored.length - 1]!.row.id;
  }
}

/** Recompute jobs whose holder died or never started: for the cron to resume. */
export function orphanedRecomputes(db: Database, now: number) {
  return db
    .select({ id: recomputes.id })
    .from(recomputes)
    .where(and(eq(recomputes.status, 'running'), or(isNull(recomputes.leaseUntil), lt(recomputes.leaseUntil, now))))
    .limit(10);
}
