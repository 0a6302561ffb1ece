/**
 * @module The outbox: transitions after each subscription's cursor become deliveries, and the
 * cursor moves in the same batch. A crash before the batch leaves the cursor where it was (the
 * changes are read again); the unique (subscription, transition) pair makes a repeat harmless.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Database } from '../db/client';
import { deliveries, transitions, webhooks } from '../db/schema';
import { changesAfter, itemOf, type ChangeRow } from '../changes/feed';
import { randomToken } from '../lib/ids';
import { rowsWrittenBy } from './rows';

type Webhook = typeof webhooks.$inferSelect;

/** Changes read per subscription and round: a round's batch stays far below D1's limits. */
export const FAN_OUT_LIMIT = 1000;

/**
 * A band subscription hears of the changes into or out of its band (triggers included), and of the
 * stage changes of leads that are in it.
 */
function concerns(hook: Webhook, r: ChangeRow): boolean {
  if (!hook.types.includes(r.t.type)) return false;
  if (hook.band === null) return true;
  if (r.t.type === 'lead.stage_changed') return r.lead?.band === hook.band;
  return r.t.fromValue === hook.band || r.t.toValue === hook.band;
}

/** The Standard Webhooks payload shape: type, timestamp, data. */
const payloadOf = (r: ChangeRow) => {
  const data = itemOf(r);
  return JSON.stringify({ type: data.type, timestamp: data.occurredAt, data });
};

/** One round for every enabled subscription; returns how many deliveries it created. */
export async function fanOut(db: Database, now: number): Promise<{ created: number; more: boolean; rowsWritten: number }> {
  const hooks = await db.select().from(webhooks).where(isNull(webhooks.disabledAt));
  if (hooks.length === 0) return { created: 0, more: false, rowsWritten: 0 };
  const [first, ...rest] = hooks.map((h) => changesAfter(db, h.siteId, h.cursor, FAN_OUT_LIMIT));
  const pages = await db.batch([first!, ...rest]);
  const writes: BatchItem<'sqlite'>[] = [];
  let created = 0;
  let more = false;
  hooks.forEach((hook, i) => {
    const rows = pages[i]!;
    if (rows.length === 0) return;
    if (rows.length === FAN_OUT_LIMIT) more = true;
    const due = rows
      .filter((r) => concerns(hook, r))
      .map((r) => [`msg_${randomToken(24)}`, hook.id, hook.siteId, r.t.leadId, r.t.seq, r.t.type, payloadOf(r)]);
    created += due.length;
    for (let j = 0; j < due.length; j += 500) {
      // drizzle lists every column in schema order; seq NULL lets SQLite number the row. A change
      // whose lead was erased since it was read is gone from transitions, or left there blank
      // (see `leads/erase`): it is not delivered.
      writes.push(
        db
          .insert(deliveries)
          .select(
            sql`SELECT NULL, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5,
                j.value ->> 6, 'pending', 0, ${now}, NULL, NULL, NULL, ${now}, NULL
              FROM json_each(${JSON.stringify(due.slice(j, j + 500))}) AS j
              WHERE EXISTS (SELECT 1 FROM ${transitions} WHERE ${transitions.siteId} = j.value ->> 2 AND ${transitions.seq} = j.value ->> 4
                AND ${transitions.leadId} = j.value ->> 3) ORDER BY j.key`,
          )
          .onConflictDoNothing(),
      );
    }
    const last = rows[rows.length - 1]!.t.seq;
    writes.push(db.update(webhooks).set({ cursor: last }).where(and(eq(webhooks.id, hook.id), eq(webhooks.cursor, hook.cursor))));
  });
  const [w, ...ws] = writes;
  const results = w ? await db.batch([w, ...ws]) : [];
  return { created, more, rowsWritten: rowsWrittenBy(results) };
}
