/** @module `POST /v1/events`: server-side events (e-mail opens and clicks…) with an API key. */
import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { ingest } from '../ingest/ingest';
import { recallsIn } from '../ingest/recall';
import { rejectionIssues, validateEvents } from '../ingest/validate';
import { MAX_BODY_BYTES, ServerBatch } from '../ingest/wire';
import { readJsonBody } from '../lib/body';
import { ApiError, parseOr400 } from '../lib/errors';
import { dispatchSoon } from '../webhooks/dispatch';

export const serverEvents = new Hono<AppEnv>();

serverEvents.post('/', async (c) => {
  const site = c.get('site');
  const now = Date.now();
  const batch = parseOr400(ServerBatch, await readJsonBody(c, MAX_BODY_BYTES), 'the batch');
  if (batch.site !== undefined && batch.site !== site.siteKey) {
    throw new ApiError(400, 'site_mismatch', '`site` is not the site key of the API key used');
  }
  const { valid, rejected } = validateEvents(batch.events, 'server', now);
  if (valid.length === 0) {
    throw new ApiError(
      400,
      'no_valid_event',
      'none of the events is valid',
      rejected.flatMap(rejectionIssues),
    );
  }
  const { changed, robots, ...result } = await ingest(c.env.DB, site, valid, now, { recall: recallsIn(c.env) });
  // Webhooks hear of a change within seconds rather than at the next cron minute.
  if (changed) dispatchSoon(c.env.DB, c.executionCtx, site);
  return c.json({ ...result, rejected, ...(robots.length ? { robot: { ignored: robots } } : {}) }, 202);
});
