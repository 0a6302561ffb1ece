/**
 * @module Sends the deliveries that are due, at least once and in order per lead, and records
 * every attempt. A delivery is claimed with a lease before it is sent: a dispatcher that dies after
 * claiming leaves it to the next one once the lease is over, so a restart loses nothing (the
 * receiver may see that `webhook-id` twice, which is what at-least-once means).
 */
import { and, asc, eq, isNull, lt, lte, notExists, or, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import { inList, type Database } from '../db/client';
import { deliveries, deliveryAttempts, webhooks } from '../db/schema';
import { rowsWrittenBy } from './rows';
import { Signer } from './signature';

/**
 * Waits after the 1st, 2nd … 7th failed attempt: the schedule the Standard Webhooks specification
 * suggests (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), so the 8th and last attempt comes about
 * 27.6 hours after the first.
 */
export const RETRY_DELAYS_MS = [5e3, 5 * 60e3, 30 * 60e3, 2 * 3600e3, 5 * 3600e3, 10 * 3600e3, 10 * 3600e3];
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** A subscription whose every attempt failed for this long is disabled. */
export const DISABLE_AFTER_MS = 5 * 24 * 3600e3;
const TIMEOUT_MS = 10_000;
export const LEASE_MS = 60_000;
/** Kept short in the log: the start of a receiver's error page says enough. */
const ERROR_CHARS = 500;

export interface Attempt {
  deliveryId: string;
  webhookId: string;
  status: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * Due deliveries whose lead has no earlier one still pending for the same subscription: only the
 * head of each lead's queue goes out, so a receiver sees a lead's changes in the order they happened.
 */
export function dueDeliveries(db: Database, now: number, limit: number) {
  const earlier = alias(deliveries, 'earlier');
  return db
    .select({ id: deliveries.id, webhookId: deliveries.webhookId, payload: deliveries.payload, url: webhooks.url, secret: webhooks.secret })
    .from(deliveries)
    .innerJoin(webhooks, eq(webhooks.id, deliveries.webhookId))
    .where(
      and(
        eq(deliveries.status, 'pending'),
        lte(deliveries.nextAttemptAt, now),
        or(isNull(deliveries.leaseUntil), lte(deliveries.leaseUntil, now)),
        isNull(webhooks.disabledAt),
        notExists(
          db
            .select({ one: sql`1` })
            .from(earlier)
            .where(
              and(
                eq(earlier.webhookId, deliveries.webhookId),
                eq(earlier.leadId, deliveries.leadId),
                eq(earlier.status, 'pending'),
                lt(earlier.seq, deliveries.seq),
              ),
            ),
        ),
      ),
    )
    .orderBy(asc(deliveries.nextAttemptAt), asc(deliveries.seq))
    .limit(limit);
}

type Due = Awaited<ReturnType<typeof dueDeliveries>>[number];

/** POSTs one delivery; never throws: a failure is an attempt like any other. */
async function attempt(signer: Signer, d: Due, signal: AbortSignal): Promise<Attempt> {
  const started = Date.now();
  const done = (status: number | null, error: string | null): Attempt => ({
    deliveryId: d.id,
    webhookId: d.webhookId,
    status,
    error,
    durationMs: Date.now() - started,
  });
  try {
    const headers = await signer.headers(d.secret, d.id, Math.floor(started / 1000), d.payload);
    const res = await fetch(d.url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'leadscore-webhooks/1' },
      body: d.payload,
      redirect: 'manual',
      signal,
    });
    const text = res.ok ? null : (await res.text().catch(() => '')).slice(0, ERROR_CHARS);
    if (res.ok) await res.body?.cancel().catch(() => {});
    return done(res.status, res.ok ? null : `HTTP ${res.status}${text ? `: ${text}` : ''}`);
  } catch (err) {
    const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    return done(null, timeout ? `no answer within ${TIMEOUT_MS / 1000} s` : String(err instanceof Error ? err.message : err).slice(0, ERROR_CHARS));
  }
}

/** One round: claim up to `limit` due deliveries, send them, record every attempt in one batch. */
export async function sendDue(db: Database, now: number, limit = 100): Promise<{ attempted: number; delivered: number; rowsWritten: number }> {
  const due = await dueDeliveries(db, now, limit);
  if (due.length === 0) return { attempted: 0, delivered: 0, rowsWritten: 0 };
  const claimed = await db
    .update(deliveries)
    .set({ leaseUntil: now + LEASE_MS })
    .where(
      and(
        inList(deliveries.id, due.map((d) => d.id)),
        eq(deliveries.status, 'pending'),
        or(isNull(deliveries.leaseUntil), lte(deliveries.leaseUntil, now)),
      ),
    )
    .returning({ id: deliveries.id });
  const mine = new Set(claimed.map((c) => c.id));
  const signer = new Signer();
  // One timer for the round rather than one per request: a round's attempts all start together, and
  // thousands of timers left behind by AbortSignal.timeout outlived the requests that made them.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new DOMException(`no answer within ${TIMEOUT_MS / 1000} s`, 'TimeoutError')), TIMEOUT_MS);
  const attempts = await Promise.all(due.filter((d) => mine.has(d.id)).map((d) => attempt(signer, d, timeout.signal))).finally(() =>
    clearTimeout(timer),
  );
  const recorded = await recordAttempts(db, now, attempts);
  // The claim's rows count too; its RETURNING hides them from drizzle, so one per claimed delivery.
  return { attempted: attempts.length, delivered: attempts.filter(ok).length, rowsWritten: claimed.length + recorded };
}

const ok = (a: Attempt) => a.status !== null && a.status >= 200 && a.status < 300;

/**
 * The attempt log, the deliveries' new state and the subscriptions' health, in one batch. The
 * attempt count and what follows from it are computed in SQL from the stored count, and only a
 * pending delivery changes state: an attempt recorded late (its dispatcher outlived its lease while
 * another sent the same delivery) is logged but cannot undo a success nor lose a count.
 */
export async function recordAttempts(db: Database, now: number, attempts: Attempt[]): Promise<number> {
  if (attempts.length === 0) return 0;
  const json = JSON.stringify(attempts.map((a) => [a.deliveryId, a.status, a.error, a.durationMs, ok(a) ? 1 : 0]));
  const at = (i: number) => sql.raw(`j.value ->> ${i}`);
  const tried = sql`${deliveries.attempts} + 1`;
  const healthy = [...new Set(attempts.filter(ok).map((a) => a.webhookId))];
  const failing = [...new Set(attempts.filter((a) => !ok(a)).map((a) => a.webhookId))].filter((id) => !healthy.includes(id));
  const results = await db.batch([
    // A delivery erased with its lead (or its subscription deleted) while it was being sent has no
    // log left to add to: its attempt is dropped rather than failing the others' records.
    db
      .insert(deliveryAttempts)
      .select(
        sql`SELECT NULL, ${at(0)}, ${now}, ${at(1)}, ${at(2)}, ${at(3)} FROM json_each(${json}) AS j
          WHERE ${at(0)} IN (SELECT ${deliveries.id} FROM ${deliveries}) ORDER BY j.key`,
      ),
    db
      .update(deliveries)
      .set({
        status: sql`CASE WHEN ${at(4)} THEN 'delivered' WHEN ${tried} >= ${MAX_ATTEMPTS} THEN 'failed' ELSE 'pending' END`,
        nextAttemptAt: sql`CASE WHEN ${at(4)} OR ${tried} >= ${MAX_ATTEMPTS} THEN NULL
          ELSE ${now} + json_extract(${JSON.stringify(RETRY_DELAYS_MS)}, '$[' || ${deliveries.attempts} || ']') END`,
        deliveredAt: sql`CASE WHEN ${at(4)} THEN ${now} END`,
        attempts: tried,
        leaseUntil: null,
        lastStatus: sql`${at(1)}`,
        lastError: sql`${at(2)}`,
      })
      .from(sql`json_each(${json}) AS j`)
      .where(and(sql`${deliveries.id} = ${at(0)}`, eq(deliveries.status, 'pending'))),
    db.update(webhooks).set({ failingSince: null }).where(inList(webhooks.id, healthy)),
    db.update(webhooks).set({ failingSince: sql`coalesce(${webhooks.failingSince}, ${now})` }).where(inList(webhooks.id, failing)),
    db
      .update(webhooks)
      .set({ disabledAt: now, disabledReason: `every delivery failed for ${DISABLE_AFTER_MS / 86_400_000} days` })
      .where(and(inList(webhooks.id, failing), isNull(webhooks.disabledAt), lte(webhooks.failingSince, now - DISABLE_AFTER_MS))),
  ]);
  return rowsWrittenBy(results);
}
