/**
 * @module `/v1/webhooks`: REST-hook subscriptions to the changes, their delivery log, and retry by
 * hand. The secret is shown once, when the subscription is created.
 */
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { CHANGE_TYPES } from '../changes/item';
import { database, inList, type Database } from '../db/client';
import { deliveries, deliveryAttempts, transitions, webhooks } from '../db/schema';
import { forgetSite } from '../db/site-cache';
import type { AppEnv } from '../env';
import { readJsonBody } from '../lib/body';
import { decodeCursor, encodeCursor } from '../lib/cursor';
import { ApiError, parseOr400 } from '../lib/errors';
import { randomToken } from '../lib/ids';
import { deliveryJson } from '../webhooks/delivery-json';
import { dispatchSoon } from '../webhooks/dispatch';
import { newSecret } from '../webhooks/signature';

export const webhooksRoutes = new Hono<AppEnv>();

/** A subscription's target as given: an http(s) URL (stored and looked up as `normalUrl` writes it). */
const TargetUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2000);

/**
 * The URL as stored: `HTTPS://Hooks.Example.com:443` and `https://hooks.example.com/` are one
 * target, so an unsubscribe names it either way.
 */
const normalUrl = (u: string) => new URL(u).href;

export const WebhookInput = z.strictObject({
  url: TargetUrl.refine((u) => {
    const { username, password } = new URL(u);
    return !username && !password;
  }, 'must not carry credentials: the signature authenticates'),
  types: z.array(z.enum(CHANGE_TYPES)).min(1).max(CHANGE_TYPES.length).refine((t) => new Set(t).size === t.length, 'must not repeat a type'),
  band: z.string().min(1).max(64).optional(),
});

export const DeliveriesQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

/** At most this many subscriptions per site: each one multiplies every change. */
const MAX_WEBHOOKS = 20;
/** Attempts shown per delivery in the log; the count says how many there were. */
const ATTEMPTS_SHOWN = 10;

type WebhookRow = typeof webhooks.$inferSelect;

const webhookJson = (w: WebhookRow) => ({
  id: w.id,
  url: w.url,
  types: w.types,
  band: w.band,
  status: w.disabledAt !== null ? 'disabled' : w.failingSince !== null ? 'failing' : 'active',
  failingSince: w.failingSince,
  disabledAt: w.disabledAt,
  disabledReason: w.disabledReason,
  createdAt: w.createdAt,
});

async function webhookOf(db: Database, siteId: string, id: string): Promise<WebhookRow> {
  const [w] = await db.select().from(webhooks).where(and(eq(webhooks.siteId, siteId), eq(webhooks.id, id)));
  if (!w) throw new ApiError(404, 'webhook_not_found', `no webhook ${JSON.stringify(id)} on this site`);
  return w;
}

webhooksRoutes.post('/', async (c) => {
  const site = c.get('site');
  const input = parseOr400(WebhookInput, await readJsonBody(c, 8 * 1024), 'the webhook');
  if (input.band !== undefined && !site.model.bands.some((b) => b.name === input.band)) {
    throw new ApiError(400, 'invalid_request', 'the webhook is not valid', [
      { path: ['band'], message: `no band ${JSON.stringify(input.band)} in the model (${site.model.bands.map((b) => b.name).join(', ')})` },
    ]);
  }
  const db = database(c.env.DB);
  const [{ count }] = (await db.select({ count: sql<number>`count(*)` }).from(webhooks).where(eq(webhooks.siteId, site.id))) as [{ count: number }];
  if (count >= MAX_WEBHOOKS) throw new ApiError(409, 'too_many_webhooks', `a site has at most ${MAX_WEBHOOKS} webhooks; delete one first`);
  const now = Date.now();
  const row: WebhookRow = {
    id: `wh_${randomToken(20)}`,
    siteId: site.id,
    url: normalUrl(input.url),
    types: input.types,
    band: input.band ?? null,
    secret: newSecret(),
    cursor: 0,
    createdAt: now,
    failingSince: null,
    disabledAt: null,
    disabledReason: null,
  };
  // Starts after the site's latest change, read in the same statement: a new subscription hears of
  // what happens from now on; the feed has the past.
  await db.insert(webhooks).select(
    sql`SELECT ${row.id}, ${row.siteId}, ${row.url}, ${JSON.stringify(row.types)}, ${row.band}, ${row.secret},
        coalesce((SELECT max(${transitions.seq}) FROM ${transitions} WHERE ${transitions.siteId} = ${site.id}), 0),
        ${now}, NULL, NULL, NULL`,
  );
  // Collect dispatches a site's changes at once only while a webhook listens (`hasWebhooks`).
  forgetSite(site.id);
  return c.json({ webhook: { ...webhookJson(row), secret: row.secret } }, 201);
});

webhooksRoutes.get('/', async (c) => {
  const rows = await database(c.env.DB).select().from(webhooks).where(eq(webhooks.siteId, c.get('site').id)).orderBy(webhooks.createdAt);
  return c.json({ webhooks: rows.map(webhookJson) });
});

webhooksRoutes.get('/:id', async (c) => {
  const db = database(c.env.DB);
  const w = await webhookOf(db, c.get('site').id, c.req.param('id'));
  const counts = await db
    .select({ status: deliveries.status, count: sql<number>`count(*)` })
    .from(deliveries)
    .where(eq(deliveries.webhookId, w.id))
    .groupBy(deliveries.status);
  const deliveryCounts = Object.fromEntries(['pending', 'delivered', 'failed'].map((s) => [s, counts.find((r) => r.status === s)?.count ?? 0]));
  return c.json({ webhook: { ...webhookJson(w), deliveries: deliveryCounts } });
});

export const UnsubscribeQuery = z.strictObject({ url: TargetUrl });

/**
 * Unsubscribes by target URL, for a REST-hook client that knows the URL it registered and not the
 * id: every subscription of the site to that URL goes, with its deliveries. The URL is matched in
 * its parsed form, as it is stored, and as given (a subscription stored before URLs were). Nothing
 * to delete is not an error (an unsubscribe retried finds none); a missing or malformed `url` is,
 * rather than a delete of all or of none.
 */
webhooksRoutes.delete('/', async (c) => {
  const { url } = parseOr400(UnsubscribeQuery, c.req.query(), 'the query');
  const siteId = c.get('site').id;
  const gone = await database(c.env.DB)
    .delete(webhooks)
    .where(and(eq(webhooks.siteId, siteId), inList(webhooks.url, [...new Set([normalUrl(url), url])])))
    .returning({ id: webhooks.id });
  if (gone.length) forgetSite(siteId);
  return c.json({ deleted: gone.map((w) => w.id) });
});

webhooksRoutes.delete('/:id', async (c) => {
  const db = database(c.env.DB);
  const w = await webhookOf(db, c.get('site').id, c.req.param('id'));
  // Deliveries and their attempts go with it (ON DELETE CASCADE).
  await db.delete(webhooks).where(eq(webhooks.id, w.id));
  forgetSite(w.siteId);
  return c.body(null, 204);
});

const DeliveryCursor = z.tuple([z.number().int()]);

webhooksRoutes.get('/:id/deliveries', async (c) => {
  const db = database(c.env.DB);
  const w = await webhookOf(db, c.get('site').id, c.req.param('id'));
  const query = parseOr400(DeliveriesQuery, c.req.query(), 'the query');
  const before = query.cursor ? decodeCursor(DeliveryCursor, query.cursor)[0] : undefined;
  // Newest first: the log is read to see what happened lately.
  const rows = await db
    .select()
    .from(deliveries)
    .where(
      and(
        eq(deliveries.webhookId, w.id),
        query.status ? eq(deliveries.status, query.status) : undefined,
        before !== undefined ? lt(deliveries.seq, before) : undefined,
      ),
    )
    .orderBy(desc(deliveries.seq))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const log = page.length
    ? await db.select().from(deliveryAttempts).where(inList(deliveryAttempts.deliveryId, page.map((d) => d.id))).orderBy(desc(deliveryAttempts.seq))
    : [];
  const logOf = (id: string) => log.filter((a) => a.deliveryId === id).slice(0, ATTEMPTS_SHOWN);
  return c.json({
    deliveries: page.map((d) => deliveryJson(d, logOf(d.id))),
    nextCursor: rows.length > query.limit ? encodeCursor([page[page.length - 1]!.seq]) : null,
  });
});

webhooksRoutes.post('/:id/deliveries/:delivery/retry', async (c) => {
  const db = database(c.env.DB);
  const w = await webhookOf(db, c.get('site').id, c.req.param('id'));
  const id = c.req.param('delivery');
  if (w.disabledAt !== null) throw new ApiError(409, 'webhook_disabled', 'the webhook is disabled: create it again to resume deliveries');
  // Whatever its state, it goes out again as soon as possible with a fresh round of retries.
  const [d] = await db
    .update(deliveries)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: Date.now(), leaseUntil: null })
    .where(and(eq(deliveries.webhookId, w.id), eq(deliveries.id, id)))
    .returning({ id: deliveries.id, status: deliveries.status });
  if (!d) throw new ApiError(404, 'delivery_not_found', `no delivery ${JSON.stringify(id)} for this webhook`);
  // Its webhook is enabled (checked above): there is something to send.
  dispatchSoon(c.env.DB, c.executionCtx, { hasWebhooks: true });
  return c.json({ delivery: d }, 202);
});
