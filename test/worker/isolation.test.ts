/**
 * Tenant isolation, route by route: every `/v1` route of the app's route table is called with site
 * B's API key on site A's resources (A's ids in the path, A's site key, band and idempotency key in
 * the request), and must neither reveal nor change anything of A. A route added without a case
 * here fails the first test: `CASES` must cover the route table exactly.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { app } from '../../worker/index';
import { dispatchWebhooks } from '../../worker/webhooks/dispatch';
import { api, browserEvent, collect, eventId, newSite, ORIGIN, type TestSite } from './helpers';

type Json = Record<string, any>;

/** Public or not authenticated by an API key: checked by their own tests. */
const NOT_WALKED = new Set(['POST /v1/collect', 'GET /v1/openapi.json']);

interface World {
  a: TestSite;
  b: TestSite;
  /** A's resources, by kind. */
  lead: { id: string; email: string; band: string };
  webhook: { id: string; secret: string };
  deliveryId: string;
  triggerId: string;
  idempotencyKey: string;
  /** A's newest model version: B has none that high. */
  version: number;
  recomputeIds: string[];
  /** A's keys: the admin's, a second active one, a revoked one. */
  keys: { main: string; active: string; revoked: string };
  /** B's own webhook, and the model B has. */
  bWebhookId: string;
  bModel: Json;
}

interface Case {
  /** Told in a failure; the path is told anyway. */
  what?: string;
  path: string;
  init?: RequestInit;
  status: number;
  /** More about a 2xx answer: what it holds is B's own. */
  check?: (body: Json) => Promise<void> | void;
}

const json = (method: string, body: unknown, headers: Record<string, string> = {}): RequestInit => ({ method, body: JSON.stringify(body), headers });

/** The ids given all belong to site B (or there are none). */
async function allOf(w: World, table: 'leads' | 'webhooks' | 'api_keys', ids: string[]) {
  const n = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE site_id = ? AND id IN (SELECT value FROM json_each(?))`)
    .bind(w.b.id, JSON.stringify(ids))
    .first<number>('n');
  expect(n, `${table} ${ids.join(', ')}`).toBe(ids.length);
}
const bLeads = async (w: World, where = '1') =>
  (await env.DB.prepare(`SELECT count(*) AS n FROM leads WHERE site_id = ? AND ${where}`).bind(w.b.id).first<number>('n'))!;

/**
 * How to call each `/v1` route, in Hono's form, as B on A's things. Each case's answer must have its
 * status, hold none of A's ids or secrets, and leave A's rows as they were.
 */
const CASES: Record<string, (w: World) => Case[]> = {
  'POST /v1/events': (w) => [
    { what: "naming A's site key", path: '/v1/events', init: json('POST', { site: w.a.siteKey, events: [{ id: eventId(), type: 'email_open', ts: Date.now(), email: w.lead.email }] }), status: 400 },
    {
      what: "for the e-mail of A's lead: a lead of B's own",
      path: '/v1/events',
      init: json('POST', { events: [{ id: eventId(), type: 'email_click', ts: Date.now(), email: w.lead.email }] }),
      status: 202,
      check: async () => expect(await bLeads(w, `email = '${w.lead.email}'`)).toBe(1),
    },
  ],
  'GET /v1/bands': (w) => [
    {
      path: '/v1/bands',
      status: 200,
      check: async (body) => expect(body.total).toBe(await bLeads(w)),
    },
  ],
  'GET /v1/bands/stats': (w) => [
    {
      path: '/v1/bands/stats',
      status: 200,
      check: async (body) => expect(body.histogram.reduce((n: number, h: Json) => n + h.count, 0)).toBe(await bLeads(w, 'band IS NOT NULL')),
    },
  ],
  'GET /v1/bands/:band/members': (w) => [
    {
      path: `/v1/bands/${w.lead.band}/members`,
      status: 200,
      check: (body) => allOf(w, 'leads', body.members.map((m: Json) => m.id)),
    },
  ],
  'POST /v1/bands/:band/trigger': (w) => [
    {
      what: "with A's Idempotency-Key: B's own trigger, not A's replayed",
      path: `/v1/bands/${w.lead.band}/trigger`,
      init: { method: 'POST', headers: { 'idempotency-key': w.idempotencyKey } },
      status: 202,
      check: async (body) => {
        expect(body.replayed).toBe(false);
        expect(body.trigger.count).toBe(await bLeads(w, `band = '${w.lead.band}'`));
      },
    },
  ],
  'GET /v1/changes': (w) => [
    {
      path: '/v1/changes?limit=1000',
      status: 200,
      check: (body) => allOf(w, 'leads', [...new Set<string>(body.items.map((i: Json) => i.lead.id))]),
    },
  ],
  'GET /v1/leads': (w) => [
    {
      what: "searching A's lead's e-mail",
      path: `/v1/leads?q=${encodeURIComponent(w.lead.email)}`,
      status: 200,
      check: (body) => allOf(w, 'leads', body.leads.map((l: Json) => l.id)),
    },
    { path: `/v1/leads?band=${w.lead.band}`, status: 200, check: (body) => allOf(w, 'leads', body.leads.map((l: Json) => l.id)) },
  ],
  'GET /v1/leads/:id': (w) => [{ path: `/v1/leads/${w.lead.id}`, status: 404 }],
  'GET /v1/leads/:id/export': (w) => [{ path: `/v1/leads/${w.lead.id}/export`, status: 404 }],
  'DELETE /v1/leads/:id': (w) => [{ path: `/v1/leads/${w.lead.id}`, init: { method: 'DELETE' }, status: 404 }],
  'PATCH /v1/leads/:id': (w) => [
    { path: `/v1/leads/${w.lead.id}`, init: json('PATCH', { stage: 'customer', feedback: { fit: 'bad', note: 'B was here' } }), status: 404 },
  ],
  'GET /v1/model': () => [{ path: '/v1/model', status: 200 }],
  'PUT /v1/model': (w) => [
    { what: "If-Match A's version", path: '/v1/model', init: json('PUT', w.bModel, { 'if-match': `"v${w.version}"` }), status: 412 },
    { what: "B's own model", path: '/v1/model', init: json('PUT', w.bModel), status: 201 },
  ],
  'GET /v1/model/versions': () => [{ path: '/v1/model/versions', status: 200 }],
  'GET /v1/model/versions/:version': (w) => [{ path: `/v1/model/versions/${w.version}`, status: 404 }],
  'POST /v1/model/versions/:version/restore': (w) => [{ path: `/v1/model/versions/${w.version}/restore`, init: { method: 'POST' }, status: 404 }],
  'GET /v1/model/recompute': () => [{ path: '/v1/model/recompute', status: 200 }],
  'GET /v1/model/recompute/:id': (w) => w.recomputeIds.map((id) => ({ path: `/v1/model/recompute/${id}`, status: 404 })),
  'POST /v1/model/preview': (w) => [
    {
      path: '/v1/model/preview',
      init: json('POST', { model: w.bModel, sample: 100 }),
      status: 200,
      check: async (body) => {
        expect(body.leads).toBe(await bLeads(w));
        await allOf(w, 'leads', body.sample.map((s: Json) => s.id));
      },
    },
  ],
  'GET /v1/quality': (w) => [
    {
      path: '/v1/quality',
      status: 200,
      check: async (body) => {
        expect(body.leads).toBe(await bLeads(w));
        await allOf(w, 'leads', body.falsePositives.sample.map((l: Json) => l.id));
      },
    },
  ],
  'GET /v1/quality/suggestion': (w) => [
    { path: '/v1/quality/suggestion', status: 200, check: async (body) => expect(body.won + body.lost).toBeLessThanOrEqual(await bLeads(w)) },
  ],
  'POST /v1/quality/backtest': (w) => [
    {
      path: '/v1/quality/backtest',
      init: json('POST', { model: w.bModel }),
      status: 200,
      check: async (body) => expect(body.won + body.lost).toBeLessThanOrEqual(await bLeads(w)),
    },
  ],
  'POST /v1/webhooks': (w) => [
    {
      path: '/v1/webhooks',
      init: json('POST', { url: `${inject('receiverUrl')}/isolation-b`, types: ['branch.triggered'], band: w.lead.band }),
      status: 201,
      check: (body) => allOf(w, 'webhooks', [body.webhook.id]),
    },
  ],
  'GET /v1/webhooks': (w) => [{ path: '/v1/webhooks', status: 200, check: (body) => allOf(w, 'webhooks', body.webhooks.map((h: Json) => h.id)) }],
  'GET /v1/webhooks/:id': (w) => [{ path: `/v1/webhooks/${w.webhook.id}`, status: 404 }],
  'DELETE /v1/webhooks': () => [
    {
      what: "unsubscribing A's target URL: none of B's, nothing of A's",
      path: `/v1/webhooks?url=${encodeURIComponent(`${inject('receiverUrl')}/isolation-a`)}`,
      init: { method: 'DELETE' },
      status: 200,
      check: (body) => expect(body.deleted).toEqual([]),
    },
  ],
  'DELETE /v1/webhooks/:id': (w) => [{ path: `/v1/webhooks/${w.webhook.id}`, init: { method: 'DELETE' }, status: 404 }],
  'GET /v1/webhooks/:id/deliveries': (w) => [{ path: `/v1/webhooks/${w.webhook.id}/deliveries`, status: 404 }],
  'POST /v1/webhooks/:id/deliveries/:delivery/retry': (w) => [
    { path: `/v1/webhooks/${w.webhook.id}/deliveries/${w.deliveryId}/retry`, init: { method: 'POST' }, status: 404 },
    { what: "A's delivery through B's own webhook", path: `/v1/webhooks/${w.bWebhookId}/deliveries/${w.deliveryId}/retry`, init: { method: 'POST' }, status: 404 },
  ],
  'GET /v1/api-keys': (w) => [{ path: '/v1/api-keys', status: 200, check: (body) => allOf(w, 'api_keys', body.apiKeys.map((k: Json) => k.id)) }],
  'POST /v1/api-keys': (w) => [
    { path: '/v1/api-keys', init: json('POST', { name: 'a-ci' }), status: 201, check: (body) => allOf(w, 'api_keys', [body.apiKey.id]) },
  ],
  'POST /v1/api-keys/:id/rotate': (w) =>
    Object.entries(w.keys).map(([which, id]) => ({ what: `A's ${which} key`, path: `/v1/api-keys/${id}/rotate`, init: { method: 'POST' }, status: 404 })),
  'DELETE /v1/api-keys/:id': (w) =>
    Object.entries(w.keys).map(([which, id]) => ({ what: `A's ${which} key`, path: `/v1/api-keys/${id}`, init: { method: 'DELETE' }, status: 404 })),
};

/** Hono's `/v1/...` routes that are operations (not middleware, not the CORS preflight). */
const walked = () =>
  app.routes
    .filter((r) => r.path.startsWith('/v1/') && r.method !== 'ALL' && r.method !== 'OPTIONS' && !r.path.includes('*'))
    .map((r) => `${r.method} ${r.path}`)
    .filter((key) => !NOT_WALKED.has(key));

/**
 * Every row of site A, in every table: those with a `site_id`, found in the schema (so a table
 * added later is watched without a change here), and those reached through one (the site itself,
 * the attempts of its deliveries, the search index of its leads).
 */
async function rowsOfSite(siteId: string): Promise<Record<string, unknown[]>> {
  const tables = (
    await env.DB.prepare(
      // D1 refuses any look at its own `_cf_` tables, even their columns.
      `SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY m.name`,
    ).all<{ name: string }>()
  ).results.map((t) => t.name);
  const columns = await env.DB.batch(tables.map((t) => env.DB.prepare(`SELECT name, pk FROM pragma_table_info(?) ORDER BY pk`).bind(t)));
  const columnsOf = new Map(tables.map((t, i) => [t, columns[i]!.results as { name: string; pk: number }[]]));
  const withSite = tables.filter((t) => columnsOf.get(t)!.some((c) => c.name === 'site_id'));
  expect(withSite).toContain('leads');
  // In key order: a WITHOUT ROWID table (events) has no rowid to order by.
  const order = (name: string) => columnsOf.get(name)!.filter((c) => c.pk > 0).map((c) => `"${c.name}"`).join(', ') || 'rowid';
  const queries: [string, string][] = [
    ...withSite.map((name): [string, string] => [name, `SELECT * FROM "${name}" WHERE site_id = ?1 ORDER BY ${order(name)}`]),
    ['sites', 'SELECT * FROM sites WHERE id = ?1'],
    ['delivery_attempts', 'SELECT a.* FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.site_id = ?1 ORDER BY a.seq'],
    ['lead_search', 'SELECT s.rowid, s.body FROM lead_search s JOIN leads l ON l.rowid = s.rowid WHERE l.site_id = ?1 ORDER BY s.rowid'],
  ];
  const results = await env.DB.batch(queries.map(([, q]) => env.DB.prepare(q).bind(siteId)));
  return Object.fromEntries(queries.map(([name], i) => [name, results[i]!.results]));
}

async function until(what: string, done: () => Promise<boolean>) {
  for (let i = 0; i < 200; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}`);
}

const count = (sql: string, ...args: unknown[]) => env.DB.prepare(sql).bind(...args).first<number>('n').then((n) => n ?? 0);

/** Site A with one of everything a /v1 route can name, settled: no recompute running, no delivery pending. */
async function buildWorld(): Promise<World> {
  const a = await newSite();
  const b = await newSite();
  const email = `secret-lead-${a.id}@a-corp.example`;
  await collect({
    site: a.siteKey,
    events: [
      browserEvent('va', 'identify', { traits: { email, jobTitle: 'Marketing director', company: 'A Corp' } }),
      browserEvent('va', 'page_view', { url: `${ORIGIN}/pricing` }),
    ],
  });
  const [leadRow] = (await env.DB.prepare('SELECT id, band FROM leads WHERE site_id = ?').bind(a.id).all<{ id: string; band: string }>()).results;
  expect(leadRow?.band).toBeTruthy();
  const lead = { id: leadRow!.id, email, band: leadRow!.band };
  expect((await api(a, `/v1/leads/${lead.id}`, json('PATCH', { feedback: { fit: 'good', note: 'A only' } }))).status).toBe(200);

  // Three versions, the rule's id being something only A has.
  const { model } = (await (await api(a, '/v1/model')).json()) as { model: Json };
  const mine = {
    ...model,
    behaviourRules: [...model.behaviourRules, { id: 'a-only-rule', label: 'A only', dimension: 'activity', points: 1, when: { type: 'page_view', path: '/a-only*' } }],
  };
  for (let i = 0; i < 3; i++) expect((await api(a, '/v1/model', json('PUT', mine))).status).toBe(201);
  await until("A's recomputes", async () => (await count(`SELECT count(*) AS n FROM recomputes WHERE site_id = ? AND status = 'running'`, a.id)) === 0);

  const hook = await api(a, '/v1/webhooks', json('POST', { url: `${inject('receiverUrl')}/isolation-a`, types: ['branch.triggered', 'lead.band_changed'] }));
  const { webhook } = (await hook.json()) as { webhook: { id: string; secret: string } };
  const idempotencyKey = `isolation-${a.id}`;
  const trigger = await api(a, `/v1/bands/${lead.band}/trigger`, { method: 'POST', headers: { 'idempotency-key': idempotencyKey } });
  expect(trigger.status).toBe(202);
  const triggerId = ((await trigger.json()) as { trigger: { id: string } }).trigger.id;
  await until("A's delivery", async () => {
    await dispatchWebhooks(env.DB, { deadline: Date.now() + 5_000 });
    return (await count(`SELECT count(*) AS n FROM deliveries WHERE site_id = ? AND status = 'delivered'`, a.id)) === 1;
  });
  const deliveryId = (await env.DB.prepare('SELECT id FROM deliveries WHERE site_id = ?').bind(a.id).first<string>('id'))!;

  const newKey = async (name: string) => ((await (await api(a, '/v1/api-keys', json('POST', { name }))).json()) as { apiKey: { id: string } }).apiKey.id;
  const active = await newKey('a-ci');
  const revoked = await newKey('a-old');
  expect((await api(a, `/v1/api-keys/${revoked}`, { method: 'DELETE' })).status).toBe(200);
  const main = (await env.DB.prepare("SELECT id FROM api_keys WHERE site_id = ? AND name = 'default'").bind(a.id).first<string>('id'))!;

  const bHook = await api(b, '/v1/webhooks', json('POST', { url: `${inject('receiverUrl')}/isolation-b`, types: ['lead.band_changed'] }));
  const recomputeIds = (await env.DB.prepare('SELECT id FROM recomputes WHERE site_id = ?').bind(a.id).all<{ id: string }>()).results.map((r) => r.id);
  return {
    a,
    b,
    lead,
    webhook,
    deliveryId,
    triggerId,
    idempotencyKey,
    version: 3,
    recomputeIds,
    keys: { main, active, revoked },
    bWebhookId: ((await bHook.json()) as { webhook: { id: string } }).webhook.id,
    bModel: ((await (await api(b, '/v1/model')).json()) as { model: Json }).model,
  };
}

/** What no answer to B may hold: A's ids, keys and secrets, and what only A's model has. */
async function secretsOf(w: World): Promise<string[]> {
  const keys = (await env.DB.prepare('SELECT id, prefix, hash FROM api_keys WHERE site_id = ?').bind(w.a.id).all<Json>()).results;
  return [
    w.a.siteKey,
    w.a.apiKey,
    w.lead.id,
    w.webhook.id,
    w.webhook.secret,
    '/isolation-a',
    w.deliveryId,
    w.triggerId,
    'a-only-rule',
    ...w.recomputeIds,
    ...keys.flatMap((k) => [k.id, k.prefix, k.hash]),
  ];
}

describe('tenant isolation on every /v1 route', () => {
  let w: World;
  beforeAll(async () => {
    w = await buildWorld();
  }, 60_000);

  it('has a case for every /v1 route of the route table, and none for a route that is not there', () => {
    expect(Object.keys(CASES).sort()).toEqual(walked().sort());
    for (const [route, cases] of Object.entries(CASES)) expect(cases(w).length, route).toBeGreaterThan(0);
  });

  it("answers site B's key on site A's resources with nothing of A, and changes none of A's rows", async () => {
    const secrets = await secretsOf(w);
    const before = await rowsOfSite(w.a.id);
    expect(before.leads).toHaveLength(1);
    expect(before.deliveries).toHaveLength(1);
    for (const route of walked()) {
      for (const c of CASES[route]!(w)) {
        const label = `${route} ${c.what ?? ''} (${c.path})`;
        const res = await api(w.b, c.path, c.init);
        const text = await res.text();
        expect(res.status, `${label}: ${text}`).toBe(c.status);
        // An error may name what was asked for ("no lead "ld_…" on this site"): that tells B nothing.
        const asked = `${c.path} ${typeof c.init?.body === 'string' ? c.init.body : ''}`;
        expect(secrets.filter((s) => text.includes(s) && !asked.includes(s)), label).toEqual([]);
        if (c.check) await c.check(JSON.parse(text) as Json);
        expect(await rowsOfSite(w.a.id), label).toEqual(before);
      }
    }
    // What B's requests set going after their answers (recomputes, webhook dispatch) has run its course.
    await until("B's recomputes", async () => (await count(`SELECT count(*) AS n FROM recomputes WHERE site_id = ? AND status = 'running'`, w.b.id)) === 0);
    await dispatchWebhooks(env.DB, { deadline: Date.now() + 5_000 });
    expect(await rowsOfSite(w.a.id)).toEqual(before);
  });

  it("refuses A's own site key (pk_…) as an API key on every route, A's own resources included", async () => {
    const before = await rowsOfSite(w.a.id);
    for (const route of walked()) {
      for (const c of CASES[route]!(w)) {
        const res = await api({ ...w.a, apiKey: w.a.siteKey }, c.path, c.init);
        expect(res.status, `${route} ${c.path}`).toBe(401);
        expect(((await res.json()) as { error: { message: string } }).error.message).toContain('site key');
      }
    }
    expect(await rowsOfSite(w.a.id)).toEqual(before);
  });
});
