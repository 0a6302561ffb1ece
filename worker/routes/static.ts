/**
 * @module The browser code the worker serves: the snippet at `/s.js` (and its aliases) and the
 * dashboard at `/dashboard`. Both are built by `npm run build` into `generated/assets.ts`.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS, SNIPPET_JS } from '../generated/assets';
import { aliases } from '../lib/aliases';

export const staticRoutes = new Hono<AppEnv>();

const DEFAULT_COLLECT_PATH = '/v1/collect';

staticRoutes.get('/s.js', (c) => {
  // A collect alias is baked into the snippet so that no page ever names the well-known path.
  const collectPath = aliases(c.env.COLLECT_ALIASES)[0];
  const body = collectPath ? SNIPPET_JS.split(DEFAULT_COLLECT_PATH).join(collectPath) : SNIPPET_JS;
  return c.body(body, 200, {
    'Content-Type': 'application/javascript; charset=utf-8',
    'Cache-Control': 'public, max-age=3600, stale-while-revalidate=86400',
    'X-Content-Type-Options': 'nosniff',
  });
});

/** Only our own files: everything shown is tracked, attacker-controlled text. */
const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const dashboardHeaders = (type: string) => ({
  'Content-Type': type,
  'Cache-Control': 'no-cache',
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
});

staticRoutes.get('/dashboard', (c) => c.body(DASHBOARD_HTML, 200, dashboardHeaders('text/html; charset=utf-8')));
staticRoutes.get('/dashboard/', (c) => c.redirect('/dashboard', 301));
staticRoutes.get('/dashboard/app.js', (c) =>
  c.body(DASHBOARD_JS, 200, dashboardHeaders('application/javascript; charset=utf-8')),
);
staticRoutes.get('/dashboard/style.css', (c) => c.body(DASHBOARD_CSS, 200, dashboardHeaders('text/css; charset=utf-8')));
