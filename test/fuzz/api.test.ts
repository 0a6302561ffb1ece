/**
 * Fuzzing every route of the app's route table but collect (see collect.test.ts): the `/v1` API,
 * the dashboard's session, `/admin`, the static files. Each route is called with hostile path
 * parameters, query strings, headers (every kind of Authorization, a session cookie with and
 * without its CSRF proof, Idempotency-Key, If-Match, Origin, Content-Type) and bodies (the route's
 * own body broken at one place, any JSON, not JSON at all). The route list is read from the app,
 * so a route added later is fuzzed without a change here.
 */
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { app } from '../../worker/index';
import { dispatchWebhooks } from '../../worker/webhooks/dispatch';
import { api, browserEvent, call, collect, newSite, ORIGIN, type TestSite } from '../worker/helpers';
import { batch, brokenBody, checkStored, withUniqueIds } from './batches';
import { fuzz, ORIGIN_SELF, Referee, type Answer, type Exchange, type FuzzRequest } from './harness';
import { encodePart, headerValue, hostileJson, hostileString, hostileText, mutate, mutation, type Mutation } from './hostile';

/** Sequences of requests, and requests in each: 5,700 a run, asserted (with collect.test.ts's, 10,350). */
const RUNS = 190;
const PER_RUN = 30;
const MIN_REQUESTS = RUNS * PER_RUN;

type Json = Record<string, any>;

/** Routes as Hono lists them: operations only (no middleware, no wildcard). */
const ROUTES = app.routes
  .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
  .map((r) => ({ method: r.method, path: r.path }))
  .filter((r, i, all) => all.findIndex((x) => x.method === r.method && x.path === r.path) === i);

/** Fuzzed in their own file, with the site key and origins they need. */
const ELSEWHERE = new Set(['POST /v1/collect', 'OPTIONS /v1/collect']);

/** Saving a model starts a recompute that a queue runs about a second later: fewer of these. */
const SLOW = new Set(['PUT /v1/model', 'POST /v1/model/versions/:version/restore']);

interface World {
  site: TestSite;
  other: TestSite;
  /** Key ids a path may name: never the main key's, which every request signs in with. */
  keys: { spare: string; revoked: string; other: string };
  revokedKey: string;
  lead: { id: string; band: string };
  otherLead: string;
  webhook: string;
  delivery: string;
  model: Json;
  session: { cookie: string; csrf: string };
}

const AUTHS = [
  'bearer', 'bearer', 'bearer', 'bearer', 'bearer', 'bearer', 'bearer', 'bearer',
  'cookie', 'cookie', 'other-site', 'bearer-lowercase', 'admin',
  'none', 'site-key', 'revoked', 'malformed', 'basic', 'two-keys', 'cookie-no-csrf', 'cookie-wrong-csrf',
  'cookie-foreign-origin', 'cookie-forged',
] as const;
type Auth = (typeof AUTHS)[number];

interface Item {
  route: number;
  auth: Auth;
  hostileAuth: string;
  params: string[];
  query: [string, string][];
  headers: [string, string][];
  body: { kind: 'template'; m: Mutation | null; text: string } | { kind: 'json'; value: unknown } | { kind: 'raw'; value: string | Uint8Array } | { kind: 'none' };
  events: { value: unknown };
  method: string | null;
}

describe('fuzz: every route of the route table', () => {
  const referee = new Referee();
  let w: World;

  beforeAll(async () => {
    const site = await newSite();
    const other = await newSite();
    await collect({
      site: site.siteKey,
      events: [
        browserEvent('va', 'identify', { traits: { email: 'lead@a-corp.example', jobTitle: 'Marketing director', company: 'A Corp' } }),
        browserEvent('va', 'page_view', { url: `${ORIGIN}/pricing` }),
      ],
    });
    await collect({ site: other.siteKey, events: [browserEvent('vb', 'identify', { traits: { email: 'lead@b-corp.example' } })] });
    const lead = (await env.DB.prepare('SELECT id, band FROM leads WHERE site_id = ?').bind(site.id).first<{ id: string; band: string }>())!;
    const otherLead = (await env.DB.prepare('SELECT id FROM leads WHERE site_id = ?').bind(other.id).first<string>('id'))!;
    const json = (method: string, body: unknown): RequestInit => ({ method, body: JSON.stringify(body) });
    const hook = (await (await api(site, '/v1/webhooks', json('POST', { url: `${inject('receiverUrl')}/fuzz`, types: ['branch.triggered', 'lead.band_changed', 'lead.stage_changed'] }))).json()) as Json;
    expect((await api(site, `/v1/bands/${lead.band}/trigger`, { method: 'POST', headers: { 'idempotency-key': 'fuzz-world' } })).status).toBe(202);
    await dispatchWebhooks(env.DB, { deadline: Date.now() + 5_000 });
    const delivery = (await env.DB.prepare('SELECT id FROM deliveries WHERE site_id = ?').bind(site.id).first<string>('id'))!;
    const newKey = async (name: string) => ((await (await api(site, '/v1/api-keys', json('POST', { name }))).json()) as Json).apiKey as { id: string; key: string };
    const spare = (await newKey('spare')).id;
    const revoked = await newKey('revoked');
    expect((await api(site, `/v1/api-keys/${revoked.id}`, { method: 'DELETE' })).status).toBe(200);
    const idOf = (s: TestSite) => env.DB.prepare("SELECT id FROM api_keys WHERE site_id = ? AND name = 'default'").bind(s.id).first<string>('id');
    // Signing in once makes the session secret, kept in D1: a write the fuzz need not see again.
    const signIn = await call('/dashboard/session', { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN_SELF }, body: JSON.stringify({ apiKey: site.apiKey }) });
    expect(signIn.status).toBe(200);
    w = {
      site,
      other,
      keys: { spare, revoked: revoked.id, other: (await idOf(other))! },
      revokedKey: revoked.key,
      lead,
      otherLead,
      webhook: hook.webhook.id,
      delivery,
      model: ((await (await api(site, '/v1/model')).json()) as Json).model,
      session: { cookie: signIn.headers.getAll('set-cookie')[0]!.split(';')[0]!, csrf: ((await signIn.json()) as Json).csrfToken },
    };
    await referee.install();
  }, 60_000);

  it('walks the whole route table', () => {
    const walked = ROUTES.map((r) => `${r.method} ${r.path}`);
    for (const route of ['GET /v1/leads/:id', 'POST /dashboard/session', 'PUT /admin/sites/:id', 'GET /s.js']) expect(walked).toContain(route);
    expect(walked.length).toBeGreaterThan(40);
  });

  /** Ids for a parameter: hostile ones mostly, real ones of this site and the other sometimes. */
  function realIds(route: { method: string; path: string }, method: string, name: string): string[] {
    // The main key and the lead stay: revoking one or erasing the other would end the fuzz's reach.
    const destructive = method === 'DELETE' || route.path.endsWith('/rotate');
    switch (name) {
      case 'id':
        if (route.path.startsWith('/v1/leads')) return destructive ? [w.otherLead] : [w.lead.id, w.otherLead];
        if (route.path.startsWith('/v1/webhooks')) return destructive ? [] : [w.webhook];
        if (route.path.startsWith('/v1/api-keys')) return [w.keys.spare, w.keys.revoked, w.keys.other];
        if (route.path.startsWith('/admin/sites')) return [w.site.id, 'fuzz-new-site'];
        return [];
      case 'band':
        return [w.lead.band, 'cold', 'hot', 'excluded'];
      case 'delivery':
        return [w.delivery];
      case 'version':
        return ['0', '1', '00001', '1.0', '-1', '1e3'];
      default:
        return [];
    }
  }

  /** The body a route takes when it is valid, hostile in its text. */
  function template(route: string, item: Item): unknown {
    const text = item.body.kind === 'template' ? item.body.text : 'x';
    switch (route) {
      case 'POST /v1/events':
        return item.events.value;
      case 'PATCH /v1/leads/:id':
        return { stage: 'sql', feedback: { fit: 'good', outcome: 'won', note: text } };
      case 'PUT /v1/model':
      case 'POST /v1/model/preview': {
        const model = { ...w.model, bands: w.model.bands.map((b: Json, i: number) => (i === 0 ? { ...b, description: text } : b)) };
        return route === 'PUT /v1/model' ? model : { model, sample: 3 };
      }
      case 'POST /v1/webhooks':
        return { url: `${inject('receiverUrl')}/fuzz/${encodePart(text)}`, types: ['lead.band_changed'], band: w.lead.band };
      case 'POST /v1/api-keys':
      case 'POST /admin/sites/:id/api-keys':
        return { name: text };
      case 'PUT /admin/sites/:id':
        return { name: text, origins: ['https://fuzz.example'] };
      case 'POST /dashboard/session':
        return { apiKey: w.site.apiKey };
      default:
        return {};
    }
  }

  const item: fc.Arbitrary<Item> = fc.record({
    route: fc.nat(),
    auth: fc.constantFrom(...AUTHS),
    hostileAuth: headerValue,
    params: fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constant('@real') },
        { weight: 3, arbitrary: hostileString.map(encodePart) },
        { weight: 1, arbitrary: fc.constantFrom('%ZZ', '%E0%A4%A', '%ED%A0%80', '%00', '..', '.', '%2F..%2F', "'", 'a/b', '%25', 'x'.repeat(3000)) },
      ),
      { minLength: 2, maxLength: 2 },
    ),
    query: fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom('limit', 'cursor', 'after', 'band', 'stage', 'excluded', 'q', 'status', 'sample'), hostileString),
        fc.oneof(fc.constantFrom('0', '-1', '1', '200', '201', '1001', '1e3', '0x10', 'NaN', 'Infinity', '9'.repeat(400), 'true', 'hot', 'mql', 'pending', 'WzEwLCJ4Il0', 'WzFd', 'bnVsbA', '!!!'), hostileString),
      ),
      { maxLength: 3 },
    ),
    headers: fc.array(
      fc.tuple(fc.constantFrom('idempotency-key', 'if-match', 'content-type', 'origin', 'x-csrf-token', 'cookie', 'user-agent', 'accept'), headerValue),
      { maxLength: 3 },
    ),
    body: fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('template' as const), m: fc.option(mutation, { freq: 3 }), text: hostileText }) },
      { weight: 2, arbitrary: hostileJson.map((value) => ({ kind: 'json' as const, value })) },
      { weight: 1, arbitrary: brokenBody('pk_fuzz').map((value) => ({ kind: 'raw' as const, value })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
    ),
    events: batch(undefined, 'server').map((b) => ({ value: b.value })),
    method: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'), { freq: 15 }),
  });

  /** Which routes an item lands on: each once in the list, the slow ones once in ten items' worth. */
  const pool = ROUTES.filter((r) => !ELSEWHERE.has(`${r.method} ${r.path}`));
  const weighted = pool.flatMap((r, i) => Array.from({ length: SLOW.has(`${r.method} ${r.path}`) ? 1 : 10 }, () => i));

  function build(x: Item): Exchange {
    const route = pool[weighted[x.route % weighted.length]!]!;
    const key = `${route.method} ${route.path}`;
    const method = x.method ?? route.method;
    let p = 0;
    const path = route.path.replace(/:(\w+)/g, (_, name: string) => {
      const given = x.params[p++ % x.params.length]!;
      const real = realIds(route, method, name);
      return given === '@real' && real.length ? encodePart(real[x.route % real.length]!) : given === '@real' ? 'nope' : given;
    });
    const query = x.query.map(([k, v]) => `${encodePart(k)}=${encodePart(v)}`).join('&');
    const headers: Record<string, string> = {};
    const isAdmin = route.path.startsWith('/admin');
    const isApi = route.path.startsWith('/v1/') && key !== 'GET /v1/openapi.json';
    const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(method);
    const cookie = (csrf: string | null, origin = ORIGIN_SELF) => {
      headers.cookie = w.session.cookie;
      headers.origin = origin;
      if (csrf !== null) headers['x-csrf-token'] = csrf;
    };
    // Whether the credentials alone make this a refusal, whatever the rest of the request.
    let refused = false;
    switch (x.auth) {
      case 'bearer':
        headers.authorization = `Bearer ${isAdmin ? 'test-admin-token' : w.site.apiKey}`;
        break;
      case 'bearer-lowercase':
        headers.authorization = `bearer   ${w.site.apiKey}  `;
        refused = isAdmin;
        break;
      case 'other-site':
        headers.authorization = `Bearer ${w.other.apiKey}`;
        refused = isAdmin;
        break;
      case 'admin':
        headers.authorization = 'Bearer test-admin-token';
        refused = isApi;
        break;
      case 'cookie':
        cookie(w.session.csrf);
        refused = isAdmin;
        break;
      case 'none':
        refused = isApi || isAdmin;
        break;
      case 'site-key':
        headers.authorization = `Bearer ${w.site.siteKey}`;
        refused = isApi || isAdmin;
        break;
      case 'revoked':
        headers.authorization = `Bearer ${w.revokedKey}`;
        refused = isApi || isAdmin;
        break;
      case 'malformed':
        headers.authorization = `Bearer ${x.hostileAuth}`;
        refused = isApi || isAdmin;
        break;
      case 'basic':
        headers.authorization = `Basic ${btoa(`admin:${w.site.apiKey}`)}`;
        refused = isApi || isAdmin;
        break;
      case 'two-keys':
        headers.authorization = `Bearer ${w.site.apiKey} ${w.other.apiKey}`;
        refused = isApi || isAdmin;
        break;
      case 'cookie-no-csrf':
        cookie(null);
        refused = (isApi && unsafe) || isAdmin;
        break;
      case 'cookie-wrong-csrf':
        cookie(x.hostileAuth);
        refused = (isApi && unsafe) || isAdmin;
        break;
      case 'cookie-foreign-origin':
        cookie(w.session.csrf, 'https://evil.example');
        refused = (isApi && unsafe) || isAdmin;
        break;
      case 'cookie-forged':
        headers.cookie = `__Host-leadscore_session=${x.hostileAuth}`;
        refused = isApi || isAdmin;
        break;
    }
    headers['content-type'] = 'application/json';
    for (const [k, v] of x.headers) headers[k] = v;

    let body: string | Uint8Array | undefined;
    let fresh: string[] = [];
    if (method !== 'GET' && method !== 'HEAD') {
      if (x.body.kind === 'template') {
        const value = template(key, x);
        ({ text: body, ids: fresh } = withUniqueIds(JSON.stringify(x.body.m ? mutate(value, x.body.m) : value) ?? ''));
      } else if (x.body.kind === 'json') body = JSON.stringify(x.body.value) ?? '';
      else if (x.body.kind === 'raw') body = x.body.value;
    }
    const req: FuzzRequest = { method, path: `${path}${query ? `?${query}` : ''}`, headers, body, mustReject: refused && method !== 'OPTIONS' };
    const siteOf = x.auth === 'other-site' ? w.other : w.site;
    return { req, accepted: (a) => roundTrip(key, req, a, siteOf, fresh) };
  }

  /** What a 2xx stored is what was sent; and whatever it set going has finished. */
  async function roundTrip(route: string, req: FuzzRequest, a: Answer, site: TestSite, fresh: string[]) {
    if (req.method !== route.split(' ')[0]) return;
    // Read only where the route takes a body: a 2xx then means it was JSON, or empty where allowed.
    const sent = () => (req.body ? JSON.parse(req.body as string) : {}) as Json;
    const one = (sql: string, ...args: unknown[]) => env.DB.prepare(sql).bind(...args).first<Json>();
    const got = () => JSON.parse(a.text) as Json;
    switch (route) {
      case 'POST /v1/events':
        return checkStored(site.id, req.body as string, a.text, fresh);
      case 'PATCH /v1/leads/:id':
        if (sent().feedback?.note !== undefined) {
          const row = await one('SELECT note FROM feedback WHERE site_id = ? ORDER BY rowid DESC LIMIT 1', site.id);
          expect(row?.note).toBe(sent().feedback.note);
        }
        return;
      case 'POST /v1/api-keys':
        expect((await one('SELECT name FROM api_keys WHERE id = ?', got().apiKey.id))?.name).toBe(sent().name.trim());
        return;
      case 'POST /admin/sites/:id/api-keys':
        expect((await one('SELECT name FROM api_keys WHERE id = ?', got().id))?.name).toBe(sent().name ?? 'default');
        return;
      case 'PUT /admin/sites/:id':
        expect(await one('SELECT name, origins FROM sites WHERE id = ?', got().id)).toEqual({ name: sent().name, origins: JSON.stringify(sent().origins) });
        return;
      case 'POST /v1/webhooks':
        expect((await one('SELECT url FROM webhooks WHERE id = ?', got().webhook.id))?.url).toBe(sent().url);
        return;
      case 'POST /v1/bands/:band/trigger':
        // Without a key, the trigger's own id stands for it.
        expect((await one('SELECT idempotency_key AS k FROM triggers WHERE id = ?', got().trigger.id))?.k).toBe(req.headers?.['idempotency-key'] ?? got().trigger.id);
        return;
      case 'PUT /v1/model':
      case 'POST /v1/model/versions/:version/restore':
        for (let i = 0; i < 400; i++) {
          if (!(await one("SELECT 1 AS x FROM recomputes WHERE status = 'running'"))) return;
          await new Promise((r) => setTimeout(r, 25));
        }
        throw new Error('the recompute never finished');
    }
  }

  it(`answers ${MIN_REQUESTS}+ hostile requests with no 5xx, JSON refusals, no write on refusal, and stores what it accepts as sent`, { timeout: 300_000 }, async () => {
    await fuzz(referee, fc.array(item, { minLength: PER_RUN, maxLength: PER_RUN }), RUNS, build);
    console.log(`api fuzz: ${referee.summary()}`);
    expect(referee.requests).toBeGreaterThanOrEqual(MIN_REQUESTS);
  });
});
