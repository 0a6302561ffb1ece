/**
 * @module The queue path of collect, for sites that outgrow answering each request after its
 * write: with an `EVENTS` queue bound, collect checks the request as always, hands the valid
 * events to the queue and answers at once; this consumer scores them through the same `ingest`
 * as the direct path, many requests of a site in one read and one write.
 *
 * Queues deliver at least once and in no guaranteed order: `ingest` stores an event id once,
 * and scores from the whole stored history, so a message delivered twice or late changes nothing.
 */
import { z } from 'zod';
import { database } from '../db/client';
import { cachedSiteById, refreshModel, siteGone } from '../db/site-cache';
import { groupBy } from '../lib/group';
import { dispatchSoon } from '../webhooks/dispatch';
import { ingest } from './ingest';
import { recallsIn } from './recall';
import { WireEvent } from './wire';

export const EventsMessage = z.object({
  kind: z.literal('events'),
  siteId: z.string().min(1),
  events: z.array(WireEvent).min(1).max(100),
});
export type EventsMessage = z.infer<typeof EventsMessage>;

/**
 * Events scored in one `ingest` call at most: one read and one write batch for up to this many,
 * which stays far inside a batch's limits (the direct path sends at most 100 at a time).
 */
const MAX_EVENTS_PER_INGEST = 500;

/** Retries back off from 2 s to a minute; past the consumer's `max_retries` the queue gives up. */
const retryDelay = (attempts: number) => Math.min(60, 2 ** attempts);

export async function consumeEvents(messages: readonly Message<unknown>[], env: { DB: D1Database; INGEST_RECALL?: string }, ctx: Pick<ExecutionContext, 'waitUntil'>) {
  const valid: { message: Message<unknown>; body: EventsMessage }[] = [];
  for (const message of messages) {
    const parsed = EventsMessage.safeParse(message.body);
    if (!parsed.success) {
      console.error('dropping a malformed events message', z.prettifyError(parsed.error));
      message.ack();
      continue;
    }
    valid.push({ message, body: parsed.data });
  }
  for (const [siteId, queued] of groupBy(valid, (q) => q.body.siteId)) {
    // One site's trouble is retried alone: the other sites' messages of the batch are acked. The
    // site is looked up once, inside the try, so that a failed lookup is retried like the rest.
    let site: Awaited<ReturnType<typeof cachedSiteById>> | undefined;
    for (const group of groups(queued)) {
      try {
        site ??= await cachedSiteById(database(env.DB), siteId);
        // Deleted since: its events have nowhere to go.
        if (site) {
          const { changed } = await ingest(env.DB, site, group.flatMap((q) => q.body.events), Date.now(), { onNewerModel: refreshModel, recall: recallsIn(env) });
          if (changed) dispatchSoon(env.DB, ctx, site);
        }
        for (const { message } of group) message.ack();
      } catch (err) {
        // Deleted while the isolate still held it: dropped as when the lookup finds no site.
        if (await siteGone(database(env.DB), siteId, err).catch(() => false)) {
          site = null;
          for (const { message } of group) message.ack();
          continue;
        }
        console.error(`scoring queued events of site ${siteId} failed; retrying`, err);
        for (const { message } of group) message.retry({ delaySeconds: retryDelay(message.attempts) });
      }
    }
  }
}

/** Consecutive messages, in delivery order, up to `MAX_EVENTS_PER_INGEST` events a group. */
function groups<T extends { body: EventsMessage }>(queued: T[]): T[][] {
  const out: T[][] = [];
  let size = Infinity;
  for (const q of queued) {
    if (size + q.body.events.length > MAX_EVENTS_PER_INGEST) {
      out.push([]);
      size = 0;
    }
    out.at(-1)!.push(q);
    size += q.body.events.length;
  }
  return out;
}
