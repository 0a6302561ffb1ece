/**
 * @module CSRF proof for requests that carry the session cookie: the cookie comes with every request
 * the browser makes to us, so it cannot tell whether our page or some other page made it.
 *
 * SameSite=Strict already keeps other sites' requests cookieless; this is the second lock, for
 * what SameSite cannot see (a sibling subdomain is "same site"; an older browser ignores it):
 * - the `X-CSRF-Token` header must hold the session's synchronizer token, which only script of our
 *   own origin can have read (from `/dashboard/session`), and a custom header cannot be sent
 *   cross-origin without a CORS preflight that this worker never grants;
 * - an `Origin` header, when the browser sends one, must be our own origin.
 */
import type { Context } from 'hono';
import { ApiError } from '../lib/errors';
import { isCsrfToken, type Session } from './session';

/** Methods that change nothing need no proof; anything else, known method or not, does. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export const needsCsrfProof = (method: string) => !SAFE_METHODS.has(method.toUpperCase());

const refused = (message: string) => new ApiError(403, 'csrf', message);

/** Throws a 403 unless an `Origin` header, when there is one, is this worker's own origin. */
export function requireOwnOrigin(c: Context): void {
  const origin = c.req.header('origin');
  if (origin !== undefined && origin !== new URL(c.req.url).origin) {
    throw refused('this request comes from another origin than the dashboard: it is refused');
  }
}

/** Throws a 403 unless the request proves it comes from our page, for this session. */
export async function requireCsrfProof(c: Context, key: CryptoKey, session: Session): Promise<void> {
  requireOwnOrigin(c);
  const token = c.req.header('x-csrf-token');
  if (!token) {
    throw refused('send the X-CSRF-Token header with the csrfToken of your session (GET /dashboard/session answers it)');
  }
  if (!(await isCsrfToken(key, session, token))) {
    throw refused('the X-CSRF-Token header is not the csrfToken of this session; fetch it again from GET /dashboard/session');
  }
}
