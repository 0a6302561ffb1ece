/**
 * @module `/admin`: provisioning for whoever runs the worker (sites and their API keys), behind the
 * `ADMIN_TOKEN` secret. Without that secret set, these routes do not exist.
 */
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { mintApiKey } from '../auth/api-key';
import { database } from '../db/client';
import { apiKeys, sites } from '../db/schema';
import { forgetSite } from '../db/site-cache';
import type { AppEnv } from '../env';
import { readJsonBody } from '../lib/body';
import { ApiError, parseOr400 } from '../lib/errors';
import { dispatchWebhooks } from '../webhooks/dispatch';
import { newSiteKey, sha256Hex } from '../lib/ids';

export const adminRoutes = new Hono<AppEnv>();

const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const token = c.env.ADMIN_TOKEN;
  if (!token) throw new ApiError(404, 'not_found', 'admin routes are disabled: ADMIN_TOKEN is not set');
  const given = /^Bearer\s+(\S+)$/.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
  // Comparing digests keeps the time taken independent of how much of the token matched.
  if ((await sha256Hex(given)) !== (await sha256Hex(token))) {
    throw new ApiError(401, 'unauthorized', 'send the admin token as "Authorization: Bearer …"');
  }
  await next();
});
adminRoutes.use('*', requireAdmin);

/** `https://example.com` or `http://localhost:8788`: scheme, host and port, nothing else. */
const Origin = z
  .string()
  .max(300)
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === s;
    } catch {
      return false;
    }
  }, 'an origin is a scheme, a host and an optional port, like https://www.example.com');

const SiteBody = z.strictObject({
  name: z.string().min(1).max(200),
  origins: z.array(Origin).min(1).max(50),
});
const SiteId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, "-" and "_"');
const KeyBody = z.strictObject({ name: z.string().min(1).max(100).optional() });

/** Creates the site, or updates its name and origins: the site key never changes. */
adminRoutes.put('/sites/:id', async (c) => {
  const id = parseOr400(SiteId, c.req.param('id'), 'the site id');
  const body = parseOr400(SiteBody, await readJsonBody(c, 16 * 1024), 'the site');
  const db = database(c.env.DB);
  const [site] = await db
    .insert(sites)
    .values({ id, name: body.name, origins: body.origins, siteKey: newSiteKey() })
    .onConflictDoUpdate({ target: sites.id, set: { name: body.name, origins: body.origins } })
    .returning();
  // New origins hold at once in this isolate; elsewhere, once their cached copy expires.
  forgetSite(site!.id);
  return c.json({ id: site!.id, name: site!.name, siteKey: site!.siteKey, origins: site!.origins });
});

/** A new secret key for the site; the key is in this answer and nowhere else, ever. */
adminRoutes.post('/sites/:id/api-keys', async (c) => {
  const id = parseOr400(SiteId, c.req.param('id'), 'the site id');
  const body = parseOr400(KeyBody, await readJsonBody(c, 4 * 1024, {}), 'the key');
  const db = database(c.env.DB);
  const [site] = await db.select({ id: sites.id }).from(sites).where(eq(sites.id, id));
  if (!site) throw new ApiError(404, 'site_not_found', `no site ${JSON.stringify(id)}`);
  const { key, ...stored } = await mintApiKey();
  const row = { ...stored, siteId: id, name: body.name ?? 'default' };
  await db.insert(apiKeys).values(row);
  return c.json({ id: row.id, name: row.name, prefix: row.prefix, key }, 201);
});

/**
 * Runs the webhook dispatcher now, as the cron would, and answers what it did: for operators who
 * will not wait a minute, and for `bench/webhooks`.
 */
adminRoutes.post('/dispatch', async (c) => c.json(await dispatchWebhooks(c.env.DB, { deadline: Date.now() + 20_000 })));
