/**
 * @module Who a request's session cookie signs in: the signature and expiry are checked without
 * storage, then the API key's row is read, so that a revoked key ends its sessions on the next
 * request.
 */
import type { Context } from 'hono';
import { database } from '../db/client';
import { siteByApiKeyId } from '../db/sites';
import type { AppEnv, SiteContext } from '../env';
import { ApiError } from '../lib/errors';
import { openSession, type Session } from './session';
import { readSessionCookie } from './session-cookie';
import { sessionKey } from './session-secret';

export interface SignedSession {
  key: CryptoKey;
  session: Session;
}

export interface AuthenticatedSession extends SignedSession {
  site: SiteContext;
}

const WHY: Record<'invalid' | 'expired' | 'revoked', string> = {
  invalid: 'the session cookie is not valid: sign in again',
  expired: 'the session expired: sign in again',
  revoked: 'the API key of this session was revoked: sign in with a current key',
};

const ended = (why: keyof typeof WHY) => new ApiError(401, 'unauthorized', WHY[why]);

/** Whether the request carries a session cookie at all, valid or not. */
export const hasSessionCookie = (c: Context<AppEnv>) => readSessionCookie(c) !== undefined;

/** The cookie's session when we signed it and it has not expired, without reading D1; else a 401. */
export async function signedSession(c: Context<AppEnv>): Promise<SignedSession> {
  const value = readSessionCookie(c);
  if (value === undefined) throw new ApiError(401, 'unauthorized', 'not signed in: POST /dashboard/session with your API key');
  const key = await sessionKey(c.env);
  const opened = await openSession(key, value, Date.now());
  if (!opened.ok) throw ended(opened.reason);
  return { key, session: opened.session };
}

/** The signed session, its key still live, with the site it acts for; else a 401. */
export async function authenticateSession(c: Context<AppEnv>): Promise<AuthenticatedSession> {
  const signed = await signedSession(c);
  const found = await siteByApiKeyId(database(c.env.DB), signed.session.keyId);
  if (!found) throw ended('revoked');
  return { ...signed, site: found.site };
}
