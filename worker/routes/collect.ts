/**
 * @module `POST /v1/collect`: the public endpoint the snippet sends to. The site key is in the
 * body, the page's origin must be one of the site's, and the body is read as text because
 * `sendBeacon` posts `text/plain` (which needs no CORS preflight).
 */
import { Hono, type Context } from 'hono';
import { database } from '../db/client';
import { meterD1 } from '../db/metering';
import { cachedSiteBySiteKey, refreshModel, siteGone } from '../db/site-cache';
import type { AppEnv } from '../env';
import { countRobot } from '../ingest/robot-counts';
import { isRobot } from '../ingest/bots';
import { ingest } from '../ingest/ingest';
import { recallsIn } from '../ingest/recall';
import { ingestAtVisitor } from '../ingest/visitor-object';
import { rejectionIssues, validateEvents } from '../ingest/validate';
import { MAX_BODY_BYTES, soleVisitor, WireBatch } from '../ingest/wire';
import { readJsonBody } from '../lib/body';
import { ApiError, parseOr400 } from '../lib/errors';
import { limitAddress, limitSiteKey } from '../limits/rate-limits';
import { dispatchSoon } from '../webhooks/dispatch';

export const collect = new Hono<AppEnv>();

/**
 * Lets the page read the answer; `Vary` keeps caches from mixing origins. What methods and headers
 * it may send, and for how long that holds, only the preflight's answer says: browsers read them
 * nowhere else, and every beacon's answer would carry them for nothing.
 */
function allowOrigin(c: Context, origin: string | undefined) {
  c.header('Vary', 'Origin');
  if (origin) c.header('Access-Control-Allow-Origin', origin);
}

// The origin is checked per site on the POST; the preflight cannot know the site (no body).
collect.options('/', (c) => {
  const origin = c.req.header('origin');
  allowOrigin(c, origin);
  if (origin) {
    c.header('Access-Control-Allow-Methods', 'POST, OPTIONS');
    c.header('Access-Control-Allow-Headers', 'Content-Type');
    c.header('Access-Control-Max-Age', '86400');
  }
  return c.body(null, 204);
});

collect.use('/', meterD1);

collect.post('/', async (c) => {
  const origin = c.req.header('origin');
  allowOrigin(c, origin);
  await limitAddress(c);
  const now = Date.now();
  const batch = parseOr400(WireBatch, await readJsonBody(c, MAX_BODY_BYTES), 'the batch');
  await limitSiteKey(c, batch.site);
  const db = database(c.env.DB);
  const site = await cachedSiteBySiteKey(db, batch.site);
  if (!site) throw unknownSiteKey();
  if (!origin || origin === 'null' || !site.origins.includes(origin)) {
    throw new ApiError(
      403,
      'origin_not_allowed',
      `the origin ${origin ? `"${origin}"` : '(none)'} is not one of this site's origins`,
    );
  }
  const { valid, rejected } = validateEvents(batch.events, 'browser', now);
  if (valid.length === 0) {
    throw new ApiError(400, 'no_valid_event', 'none of the events is valid', rejected.flatMap(rejectionIssues));
  }
  try {
    if (isRobot(c.req.header('user-agent'))) {
      // Answered as a success, so that a robot has no reason to try again: counted, never scored.
      await countRobot(db, site.id, valid.length, now);
      return c.json({ accepted: [], duplicates: [], rejected, robot: { ignored: valid.map((e) => e.id) } }, 202);
    }
    if (c.env.EVENTS) {
      // Taken for scoring: duplicates and robots by their pace are told apart by the consumer
      // (which drops the events of a site deleted since, see `siteGone`).
      await c.env.EVENTS.send({ kind: 'events', siteId: site.id, events: valid });
      return c.json({ accepted: valid.map((e) => e.id), duplicates: [], rejected, queued: true }, 202);
    }
    const visitor = c.env.VISITOR_INGEST ? soleVisitor(valid) : null;
    const { changed, robots, ...result } = visitor
      ? await ingestAtVisitor(c.env.VISITOR_INGEST!, site, visitor, valid, now, { meter: c.get('d1Meter'), onNewerModel: refreshModel })
      : await ingest(c.env.DB, site, valid, now, { onNewerModel: refreshModel, recall: recallsIn(c.env) });
    // Webhooks hear of a change within seconds rather than at the next cron minute.
    if (changed) dispatchSoon(c.env.DB, c.executionCtx, site);
    return c.json({ ...result, rejected, ...(robots.length ? { robot: { ignored: robots } } : {}) }, 202);
  } catch (err) {
    // The site came from the isolate's cache: deleted since, it is as unknown as a wrong key.
    if (await siteGone(db, site.id, err)) throw unknownSiteKey();
    throw err;
  }
});

const unknownSiteKey = () => new ApiError(403, 'unknown_site_key', 'no site has this site key');
