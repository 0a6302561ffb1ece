/**
 * @module Rate limits: per client address on every route that reaches D1, and per site key on
 * collect, through Cloudflare's rate-limiting bindings (declared in wrangler.toml, simulated
 * in memory by `wrangler dev` and the tests' workerd alike).
 *
 * A site key is public, so anyone can flood a site's collect endpoint from many addresses: the
 * per-site limit caps what one site can cost in D1 writes. The per-address limit stops one
 * machine from doing that to every site at once, or from hammering sign-in and the API.
 *
 * The binding counts per Cloudflare location and is eventually consistent: a guard against
 * floods, not an exact quota. When it fails (it is a network service), requests go through:
 * losing visits would hurt every site, a short unlimited window hurts none.
 */
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env';
import { ApiError } from '../lib/errors';

/** Seconds a limited client is told to wait: the longest period a binding can have. */
const RETRY_AFTER_S = 60;

async function allowed(c: Context<AppEnv>, limiter: RateLimit | undefined, key: string): Promise<boolean> {
  if (!limiter || c.env.RATE_LIMITS === 'off') return true;
  try {
    return (await limiter.limit({ key })).success;
  } catch (err) {
    console.error('rate limiter unavailable, letting the request through', err);
    return true;
  }
}

function limited(c: Context, message: string): ApiError {
  c.header('Retry-After', String(RETRY_AFTER_S));
  return new ApiError(429, 'rate_limited', message);
}

/**
 * The key for an address: IPv6 by its /64, which is what one subscriber holds, so that walking the
 * addresses of one's own network gives no fresh allowance. Never stored: it lives only in the
 * limiter's counters.
 */
export function addressKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = ip.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * A request by its client address. Cloudflare sets `CF-Connecting-IP` on every request it forwards
 * (and `wrangler dev` from the socket), overwriting what a client sent; a request without it never
 * came through the edge (the tests' own calls), and is not limited.
 */
export async function limitAddress(c: Context<AppEnv>): Promise<void> {
  const ip = c.req.header('cf-connecting-ip')?.trim();
  if (ip && !(await allowed(c, c.env.RATE_LIMIT_IP, `ip:${addressKey(ip)}`))) {
    throw limited(c, 'too many requests from this address: wait a minute and send again');
  }
}

export const limitByAddress = createMiddleware<AppEnv>(async (c, next) => {
  await limitAddress(c);
  await next();
});

/** Collect requests per site key, checked before the key is even looked up. */
export async function limitSiteKey(c: Context<AppEnv>, siteKey: string): Promise<void> {
  if (!(await allowed(c, c.env.RATE_LIMIT_SITE, `site:${siteKey}`))) {
    throw limited(c, "too many requests for this site key: wait a minute and send again (the snippet keeps the events and retries)");
  }
}
