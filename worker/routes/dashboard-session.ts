/**
 * @module `/dashboard/session`: the dashboard signs in with an API key once and holds a session
 * cookie from then on, so the key is never kept in the browser.
 *
 * - `POST` `{"apiKey": "sk_…"}` → `{site, csrfToken, expiresAt}` and the cookie;
 * - `GET` → the same for the current session (the page keeps the CSRF token in memory only, so it
 *   asks again on every load), or 401;
 * - `DELETE` → signs out: clears the cookie.
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { API_KEY, siteOfApiKey } from '../auth/api-key';
import { requireCsrfProof, requireOwnOrigin } from '../auth/csrf';
import { csrfToken, newSession, sealSession, type Session } from '../auth/session';
import { authenticateSession, hasSessionCookie, signedSession } from '../auth/session-auth';
import { clearSessionCookie, writeSessionCookie } from '../auth/session-cookie';
import { sessionKey } from '../auth/session-secret';
import type { AppEnv, SiteContext } from '../env';
import { readJsonBody } from '../lib/body';
import { ApiError, parseOr400 } from '../lib/errors';

export const dashboardSessionRoutes = new Hono<AppEnv>();

const SignIn = z.strictObject({
  apiKey: z
    .string()
    .trim()
    .refine((k) => !k.startsWith('pk_'), {
      message: 'this is a site key (pk_…), which can only send events: sign in with a secret API key (sk_…)',
      abort: true,
    })
    .regex(API_KEY, 'a secret API key is "sk_" followed by letters and digits'),
});

async function answer(c: Context<AppEnv>, key: CryptoKey, session: Session, site: SiteContext) {
  // The CSRF token is as good as the session to whoever reads it: never cached anywhere.
  c.header('Cache-Control', 'no-store');
  return c.json({ site: { id: site.id, name: site.name }, csrfToken: await csrfToken(key, session), expiresAt: session.expiresAt });
}

dashboardSessionRoutes.post('/', async (c) => {
  // Against login CSRF (another site signing this browser in with the attacker's key): a foreign
  // page can post a form, whose Origin we refuse, or text/plain that happens to parse as JSON,
  // which is why only application/json is taken; that type, cross-origin, needs a CORS preflight
  // this worker never grants.
  requireOwnOrigin(c);
  if (!/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
    throw new ApiError(415, 'unsupported_media_type', 'send {"apiKey": "sk_…"} as JSON, with "Content-Type: application/json"');
  }
  const { apiKey } = parseOr400(SignIn, await readJsonBody(c, 4 * 1024), 'the sign-in');
  const found = await siteOfApiKey(c.env.DB, apiKey);
  const key = await sessionKey(c.env);
  const session = newSession(found.keyId, Date.now());
  writeSessionCookie(c, await sealSession(key, session));
  return answer(c, key, session, found.site);
});

dashboardSessionRoutes.get('/', async (c) => {
  try {
    const { key, session, site } = await authenticateSession(c);
    return await answer(c, key, session, site);
  } catch (err) {
    // A cookie that no longer signs anyone in is useless to the browser: drop it with the 401.
    if (err instanceof ApiError && err.status === 401 && hasSessionCookie(c)) clearSessionCookie(c);
    throw err;
  }
});

/**
 * Needs the signature and the CSRF proof, not a live key: a session whose key was revoked can
 * still sign out. Without a valid session there is nothing to protect, and the cookie is cleared.
 */
dashboardSessionRoutes.delete('/', async (c) => {
  const signed = await signedSession(c).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  });
  if (signed) await requireCsrfProof(c, signed.key, signed.session);
  clearSessionCookie(c);
  return c.body(null, 204);
});
