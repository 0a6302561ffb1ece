/** @module Bearer `sk_…` authentication for the `/v1` API: sets the site the request acts for. */
import { createMiddleware } from 'hono/factory';
import { database } from '../db/client';
import { siteByApiKeyHash } from '../db/sites';
import type { AppEnv } from '../env';
import { ApiError } from '../lib/errors';
import { sha256Hex } from '../lib/ids';

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('authorization') ?? '';
  const match = /^Bearer\s+(sk_[a-z0-9]{8,128})\s*$/i.exec(header);
  if (!match) {
    throw new ApiError(401, 'unauthorized', 'send a secret API key as "Authorization: Bearer sk_…"');
  }
  const found = await siteByApiKeyHash(database(c.env.DB), await sha256Hex(match[1]!));
  if (!found) throw new ApiError(401, 'unauthorized', 'this API key is unknown or revoked');
  c.set('site', found.site);
  c.set('apiKeyId', found.keyId);
  await next();
});
