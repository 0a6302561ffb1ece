/**
 * @module Authentication for the `/v1` API: a bearer `sk_…` key, or the dashboard's session cookie.
 * Either sets the site the request acts for and the API key it acts with.
 *
 * Bearer wins when present: a script holding a key means that key, whatever cookie it carries. A
 * bearer request needs no CSRF proof, since no browser attaches the header on its own; a cookie is
 * an ambient credential, so a state-changing request authenticated by it must prove it comes from
 * our page (see `csrf.ts`).
 */
import { createMiddleware } from 'hono/factory';
import { database } from '../db/client';
import { siteByApiKeyHash } from '../db/sites';
import type { AppEnv } from '../env';
import { ApiError } from '../lib/errors';
import { newApiKey, randomToken, sha256Hex } from '../lib/ids';
import { needsCsrfProof, requireCsrfProof } from './csrf';
import { authenticateSession, hasSessionCookie } from './session-auth';

/** The shape of every secret key `newApiKey` makes (and older, shorter ones). */
export const API_KEY = /^sk_[a-z0-9]{8,128}$/i;

/** Characters of a key kept in clear (`sk_` and 7 more), to tell keys apart in a list. */
const PREFIX_LENGTH = 10;

/** A new secret key and what is stored of it: its id, its prefix and its SHA-256, never the key. */
export async function mintApiKey() {
  const key = newApiKey();
  return { id: `key_${randomToken(16)}`, key, prefix: key.slice(0, PREFIX_LENGTH), hash: await sha256Hex(key) };
}

/** The site of a well-formed secret key, or a 401. */
export async function siteOfApiKey(db: D1Database, apiKey: string) {
  const found = await siteByApiKeyHash(database(db), await sha256Hex(apiKey));
  if (!found) throw new ApiError(401, 'unauthorized', 'this API key is unknown or revoked');
  return found;
}

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('authorization')?.trim() || undefined;
  if (header !== undefined) {
    const key = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    if (key?.startsWith('pk_')) {
      throw new ApiError(401, 'unauthorized', 'this is a site key (pk_…), which can only send events to /v1/collect: send a secret API key (sk_…)');
    }
    if (!key || !API_KEY.test(key)) {
      throw new ApiError(401, 'unauthorized', 'send a secret API key as "Authorization: Bearer sk_…"');
    }
    const found = await siteOfApiKey(c.env.DB, key);
    c.set('site', found.site);
    c.set('apiKeyId', found.keyId);
  } else if (hasSessionCookie(c)) {
    const { key, session, site } = await authenticateSession(c);
    if (needsCsrfProof(c.req.method)) await requireCsrfProof(c, key, session);
    c.set('site', site);
    c.set('apiKeyId', session.keyId);
  } else {
    throw new ApiError(401, 'unauthorized', 'send a secret API key as "Authorization: Bearer sk_…", or sign in to the dashboard');
  }
  await next();
});
