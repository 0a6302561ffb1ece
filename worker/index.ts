/**
 * @module The worker: every route mounted, one error path.
 * sdk → collect → ingest (scoring) → D1 → API and dashboard.
 */
import { Hono, type Context } from 'hono';
import { requireApiKey } from './auth/api-key';
import type { AppEnv, Bindings } from './env';
import { consumeEvents } from './ingest/event-queue';
import { handleJobs } from './jobs/queue';
import { runScheduled } from './jobs/scheduled';
import { canonicalPath } from './lib/aliases';
import { ApiError, errorResponse } from './lib/errors';
import { limitByAddress } from './limits/rate-limits';
import { adminRoutes } from './routes/admin';
import { apiKeysRoutes } from './routes/api-keys';
import { bandsRoutes } from './routes/bands';
import { changesRoutes } from './routes/changes';
import { collect } from './routes/collect';
import { dashboardSessionRoutes } from './routes/dashboard-session';
import { serverEvents } from './routes/events';
import { leadsRoutes } from './routes/leads';
import { modelRoutes } from './routes/model';
import { openapiRoutes } from './routes/openapi';
import { qualityRoutes } from './routes/quality';
import { staticRoutes } from './routes/static';
import { webhooksRoutes } from './routes/webhooks';

// Bound as `VISITOR_INGEST` when a deployment wants it (see wrangler.toml): exported either way.
export { VisitorIngest } from './ingest/visitor-object';

export const app = new Hono<AppEnv>();

app.route('/', staticRoutes);
// Static files (the snippet, the dashboard) are cached at the edge and cost no D1: not counted.
// Collect limits its own requests, once its CORS headers are set, so the snippet can read a 429.
app.use('/v1/*', async (c, next) => (c.req.path.startsWith('/v1/collect') ? next() : limitByAddress(c, next)));
app.use('/dashboard/session', limitByAddress);
app.use('/admin/*', limitByAddress);
app.route('/dashboard/session', dashboardSessionRoutes);
app.route('/v1/collect', collect);
app.route('/admin', adminRoutes);
// Public: the document is the public contract and holds nothing of any site, and tools import it
// before anyone has a key. Mounted before the API-key middleware, so its handler answers first.
app.route('/v1/openapi.json', openapiRoutes);

app.use('/v1/*', async (c, next) => (c.req.path.startsWith('/v1/collect') ? next() : requireApiKey(c, next)));
app.route('/v1/events', serverEvents);
app.route('/v1/bands', bandsRoutes);
app.route('/v1/changes', changesRoutes);
app.route('/v1/leads', leadsRoutes);
app.route('/v1/model', modelRoutes);
app.route('/v1/quality', qualityRoutes);
app.route('/v1/webhooks', webhooksRoutes);
app.route('/v1/api-keys', apiKeysRoutes);

app.get('/', (c) => c.redirect('/dashboard'));

const notFound = (c: Context<AppEnv>) => errorResponse(new ApiError(404, 'not_found', `no route for ${c.req.method} ${c.req.path}`), c);
app.notFound(notFound);
app.onError(errorResponse);

/**
 * Collect alone, for the worker's busiest path. In `app`, a collect request is matched against the
 * whole route table, which hono walks as a trie on every request (its RegExpRouter cannot hold
 * `/v1/bands/stats` beside `/v1/bands/:band/members`), then passes through the `/v1/*` middleware
 * that collect skips anyway. The same routes, the same handler and errors, found among three.
 */
const collectApp = new Hono<AppEnv>().route('/v1/collect', collect);
collectApp.notFound(notFound);
collectApp.onError(errorResponse);

export default {
  fetch(request: Request, env: Bindings, ctx: ExecutionContext) {
    const url = new URL(request.url);
    const canonical = canonicalPath(url.pathname, env);
    if (canonical) {
      url.pathname = canonical;
      request = new Request(url, request);
    }
    return (url.pathname === '/v1/collect' ? collectApp : app).fetch(request, env, ctx);
  },
  // One handler for both queues, told apart by what their messages carry, not by queue names a
  // deployment may choose.
  async queue(batch: MessageBatch<unknown>, env: Bindings, ctx: ExecutionContext) {
    const isEvents = (m: Message<unknown>) => (m.body as { kind?: unknown } | null)?.kind === 'events';
    await consumeEvents(batch.messages.filter(isEvents), env, ctx);
    await handleJobs(batch.messages.filter((m) => !isEvents(m)), env);
  },
  scheduled(controller: ScheduledController, env: Bindings, ctx: ExecutionContext) {
    ctx.waitUntil(runScheduled(env.DB, controller.scheduledTime));
  },
} satisfies ExportedHandler<Bindings>;
