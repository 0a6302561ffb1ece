/**
 * @module `/v1/api-keys`: a site's secret keys, managed with one of them. A key is shown once, in
 * the answer that creates it; only its SHA-256 and its first characters are stored.
 *
 * - Rotating revokes the old key at once, in the same batch that makes the new one: no grace
 *   period. A rotation is most often for a key that leaked, and a grace period would keep the leak
 *   open; to change keys without a moment of downtime, create a second key, switch to it, then
 *   revoke the first.
 * - Revoking keeps the row (with `revoked_at`) for the audit trail: model versions name the key
 *   that saved them. The last active key of a site cannot be revoked (409), so that nobody locks
 *   the site out of its own API; revoking the very key the request is made with is allowed, and the
 *   answer says so (`current: true`).
 *
 * Every guard (the cap on active keys, the last active key, a key rotated twice at once) is in the
 * statement that writes, so two requests at the same moment cannot both pass it.
 */
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { mintApiKey } from '../auth/api-key';
import { database, type Database } from '../db/client';
import { apiKeys } from '../db/schema';
import type { AppEnv } from '../env';
import { readJsonBody } from '../lib/body';
import { ApiError, parseOr400 } from '../lib/errors';

export const apiKeysRoutes = new Hono<AppEnv>();

export const ApiKeyInput = z.strictObject({ name: z.string().trim().min(1).max(100) });

/** Active keys per site: each is a way in, and a stolen key must not be able to mint keys without end. */
export const MAX_ACTIVE_KEYS = 20;

type ApiKeyRow = typeof apiKeys.$inferSelect;

/** Everything about a key but its hash. `current`: the request was authenticated with this key. */
const keyJson = (k: ApiKeyRow, currentId: string) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  // Keys made by /admin take the column's default, `unixepoch('subsec') * 1000`, which may carry a fraction.
  createdAt: Math.round(k.createdAt),
  revokedAt: k.revokedAt,
  current: k.id === currentId,
});

const notFound = (id: string) => new ApiError(404, 'api_key_not_found', `no API key ${JSON.stringify(id)} on this site`);

async function keyOf(db: Database, siteId: string, id: string): Promise<ApiKeyRow> {
  const [k] = await db.select().from(apiKeys).where(and(eq(apiKeys.siteId, siteId), eq(apiKeys.id, id)));
  if (!k) throw notFound(id);
  return k;
}

/** Every key of the site, revoked ones included, oldest first. Never a hash, never a key. */
apiKeysRoutes.get('/', async (c) => {
  const rows = await database(c.env.DB)
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.siteId, c.get('site').id))
    .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
  return c.json({ apiKeys: rows.map((k) => keyJson(k, c.get('apiKeyId'))) });
});

apiKeysRoutes.post('/', async (c) => {
  const site = c.get('site');
  const input = parseOr400(ApiKeyInput, await readJsonBody(c, 4 * 1024), 'the API key');
  const db = database(c.env.DB);
  const minted = await mintApiKey();
  const now = Date.now();
  // Counted and inserted in one statement: two requests at once cannot both take the last place.
  const [created] = await db
    .insert(apiKeys)
    .select(
      sql`SELECT ${minted.id}, ${site.id}, ${minted.prefix}, ${minted.hash}, ${input.name}, ${now}, NULL
          WHERE (SELECT count(*) FROM ${apiKeys} WHERE ${apiKeys.siteId} = ${site.id} AND ${apiKeys.revokedAt} IS NULL) < ${MAX_ACTIVE_KEYS}`,
    )
    .returning();
  if (!created) {
    throw new ApiError(409, 'too_many_api_keys', `a site has at most ${MAX_ACTIVE_KEYS} active API keys; revoke one first`);
  }
  return c.json({ apiKey: { ...keyJson(created, c.get('apiKeyId')), key: minted.key } }, 201);
});

/**
 * A new key with the same name, and the old one revoked, in one batch. The new key is inserted only
 * while the old one is still active, so a rotation sent twice at once makes one key, not two.
 */
apiKeysRoutes.post('/:id/rotate', async (c) => {
  const site = c.get('site');
  const db = database(c.env.DB);
  const old = await keyOf(db, site.id, c.req.param('id'));
  if (old.revokedAt !== null) throw revoked(old);
  const minted = await mintApiKey();
  const now = Date.now();
  const isOld = and(eq(apiKeys.siteId, site.id), eq(apiKeys.id, old.id), isNull(apiKeys.revokedAt));
  const [made, gone] = await db.batch([
    db
      .insert(apiKeys)
      .select(sql`SELECT ${minted.id}, ${apiKeys.siteId}, ${minted.prefix}, ${minted.hash}, ${apiKeys.name}, ${now}, NULL FROM ${apiKeys} WHERE ${isOld}`)
      .returning(),
    db.update(apiKeys).set({ revokedAt: now }).where(isOld).returning(),
  ]);
  // Revoked between the read and the batch, by another request: this one did nothing.
  if (!made[0] || !gone[0]) throw revoked(await keyOf(db, site.id, old.id));
  const current = c.get('apiKeyId');
  return c.json({ apiKey: { ...keyJson(made[0], current), key: minted.key }, revoked: keyJson(gone[0], current) }, 201);
});

const revoked = (k: ApiKeyRow) =>
  new ApiError(409, 'api_key_revoked', `the API key ${JSON.stringify(k.id)} was revoked at ${new Date(k.revokedAt!).toISOString()}: create a new one instead`);

/**
 * Revokes the key, unless it is the site's last active one. A key already revoked answers as it is:
 * a retried request finds done what it asked for.
 */
apiKeysRoutes.delete('/:id', async (c) => {
  const site = c.get('site');
  const id = c.req.param('id');
  const db = database(c.env.DB);
  const [done] = await db
    .update(apiKeys)
    .set({ revokedAt: Date.now() })
    .where(
      and(
        eq(apiKeys.siteId, site.id),
        eq(apiKeys.id, id),
        isNull(apiKeys.revokedAt),
        // Another active key must remain, checked in the statement that revokes: two requests
        // revoking a site's last two keys at once leave one of them.
        sql`EXISTS (SELECT 1 FROM ${apiKeys} other WHERE other.site_id = ${site.id} AND other.revoked_at IS NULL AND other.id <> ${id})`,
      ),
    )
    .returning();
  const key = done ?? (await keyOf(db, site.id, id));
  if (!done && key.revokedAt === null) {
    throw new ApiError(409, 'last_api_key', 'this is the last active API key of the site: create another one before revoking it, or rotate it');
  }
  return c.json({ apiKey: keyJson(key, c.get('apiKeyId')) });
});
