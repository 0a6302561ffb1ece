/**
 * @module The dashboard's session cookie: HttpOnly (page script never sees it), SameSite=Strict
 * (no other site's page can make the browser send it), Path=/ (the dashboard and `/v1`).
 *
 * Over https it is `__Host-leadscore_session`, Secure: the prefix makes the browser refuse the
 * cookie unless this very host set it, so a sibling subdomain cannot plant a session of its own.
 * Over plain http (`wrangler dev` on localhost) neither the prefix nor Secure would be accepted
 * everywhere, so the cookie is `leadscore_session` without them.
 */
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { SESSION_TTL_SECONDS } from './session';

const NAME = 'leadscore_session';

const isHttps = (c: Context) => new URL(c.req.url).protocol === 'https:';

export const readSessionCookie = (c: Context): string | undefined => getCookie(c, NAME, isHttps(c) ? 'host' : undefined);

function write(c: Context, value: string, maxAge: number): void {
  const secure = isHttps(c);
  setCookie(c, NAME, value, {
    ...(secure ? { prefix: 'host' as const } : {}),
    secure,
    httpOnly: true,
    sameSite: 'Strict',
    path: '/',
    maxAge,
  });
}

export const writeSessionCookie = (c: Context, value: string) => write(c, value, SESSION_TTL_SECONDS);

export const clearSessionCookie = (c: Context) => write(c, '', 0);
