/**
 * @module The webhook dispatcher: fan changes out into deliveries, send what is due, and go on
 * while there is work and time. The cron trigger runs it every minute; routes that create changes
 * run it right away (`waitUntil`), so a receiver hears of a change within seconds, not a minute.
 */
import { database } from '../db/client';
import { fanOut } from './fan-out';
import { sendDue } from './send';

export interface DispatchStats {
  created: number;
  attempted: number;
  delivered: number;
  /** D1 rows written by the fan-out and the attempts' records (`meta.rows_written`). */
  rowsWritten: number;
}

/**
 * `now` fixes the clock for every round (tests and the cron's scheduled time); by default each
 * round reads the time. Stops at `deadline` (ms since epoch) between rounds.
 */
export async function dispatchWebhooks(d1: D1Database, opts: { now?: number; deadline: number }): Promise<DispatchStats> {
  const db = database(d1);
  const stats: DispatchStats = { created: 0, attempted: 0, delivered: 0, rowsWritten: 0 };
  while (Date.now() < opts.deadline) {
    const now = opts.now ?? Date.now();
    const fanned = await fanOut(db, now);
    const sent = await sendDue(db, now);
    stats.created += fanned.created;
    stats.attempted += sent.attempted;
    stats.delivered += sent.delivered;
    stats.rowsWritten += fanned.rowsWritten + sent.rowsWritten;
    if (!fanned.more && sent.attempted === 0) break;
  }
  return stats;
}

/**
 * After a response: dispatch what the request's changes call for, without making the client wait.
 * A site no webhook listens to has nothing to dispatch: its requests leave D1 alone (the cron
 * still runs the outbox every minute for everyone).
 */
export function dispatchSoon(d1: D1Database, ctx: Pick<ExecutionContext, 'waitUntil'>, site: { hasWebhooks: boolean }): void {
  if (site.hasWebhooks) ctx.waitUntil(dispatchWebhooks(d1, { deadline: Date.now() + 20_000 }));
}
