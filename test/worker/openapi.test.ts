import { env } from 'cloudflare:workers';
import { dispatchWebhooks } from '../../worker/webhooks/dispatch';
import { describe, expect, inject, it } from 'vitest';
import { app } from '../../worker/index';
import { ErrorBody } from '../../worker/openapi/responses';
import { operations } from '../../worker/openapi/spec';
import { LeadListQuery } from '../../worker/routes/leads';
import { api, browserEvent, call, collect, newSite, ORIGIN, type TestSite } from './helpers';

type Json = Record<string, any>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

async function theDocument(): Promise<Json> {
  const res = await call('/v1/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return res.json();
}

/** Hono's `/v1/leads/:id` (or `:id{[0-9]+}`, `:id?`) in OpenAPI form: `/v1/leads/{id}`. */
const openApiPath = (path: string) => path.replace(/:(\w+)(\{[^}]*\})?\??/g, '{$1}');

function operationsOf(doc: Json): { key: string; path: string; op: Json }[] {
  return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, op: op as Json })),
  );
}

/** Every `$ref` in `node`, with where it is. */
function refsIn(node: unknown, at = '#'): { at: string; ref: string }[] {
  if (Array.isArray(node)) return node.flatMap((v, i) => refsIn(v, `${at}/${i}`));
  if (!node || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) =>
    k === '$ref' && typeof v === 'string' ? [{ at, ref: v }] : refsIn(v, `${at}/${k}`),
  );
}

/** A local JSON pointer resolved in `doc`, or undefined. */
function resolve(doc: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, token) => (node && typeof node === 'object' ? (node as Json)[token] : undefined), doc);
}

describe('GET /v1/openapi.json', () => {
  it('is an OpenAPI 3.1 document, public, that names where the API is', async () => {
    const doc = await theDocument();
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.servers).toEqual([{ url: 'https://leadscore.test' }]);
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    // The API key is the default, the collect endpoint and the document itself say they need none.
    expect(doc.security).toEqual([{ apiKey: [] }]);
    expect(doc.paths['/v1/collect'].post.security).toEqual([]);
    expect(doc.paths['/v1/leads'].get.security).toBeUndefined();
  });

  it("documents every /v1 route of the app's route table, and nothing else", async () => {
    const doc = await theDocument();
    const mounted = new Set(
      app.routes
        // ALL: middleware such as the API-key check. OPTIONS: the CORS preflight browsers send, not
        // an operation a client calls. A `*` only comes with middleware and mounts.
        .filter((r) => r.path.startsWith('/v1/') && r.method !== 'ALL' && r.method !== 'OPTIONS' && !r.path.includes('*'))
        .map((r) => `${r.method} ${openApiPath(r.path)}`),
    );
    const documented = operationsOf(doc).map((o) => o.key);
    expect(documented.length).toBe(new Set(documented).size);
    expect([...documented].sort()).toEqual([...mounted].sort());
  });

  it('is structurally sound: every $ref resolves, every path parameter is declared, every id is unique', async () => {
    const doc = await theDocument();
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(0);
    expect(refs.filter(({ ref }) => resolve(doc, ref) === undefined)).toEqual([]);
    // A component with an `$id` would be a base URI of its own for the refs inside it.
    for (const schema of Object.values(doc.components.schemas as Json)) expect(schema).not.toHaveProperty('$id');

    const ops = operationsOf(doc);
    const ids = ops.map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const schemes = Object.keys(doc.components.securitySchemes);
    for (const { key, path, op } of ops) {
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const declared = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort(), key).toEqual(inPath.sort());
      expect(declared.every((p) => p.required === true && p.schema), key).toBe(true);
      const inQuery = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'query').map((p) => p.name);
      expect(new Set(inQuery).size, key).toBe(inQuery.length);

      const statuses = Object.keys(op.responses);
      expect(statuses.filter((s) => /^2\d\d$/.test(s)), key).toHaveLength(1);
      for (const status of statuses.filter((s) => /^[45]\d\d$|^default$/.test(s))) {
        expect(op.responses[status].content['application/json'].schema, `${key} ${status}`).toEqual({ $ref: '#/components/schemas/Error' });
      }
      for (const requirement of (op.security ?? doc.security) as Json[]) {
        for (const name of Object.keys(requirement)) expect(schemes, key).toContain(name);
      }
    }
  });

  it("documents the band trigger's Idempotency-Key header as the route reads it: optional, bounded", async () => {
    const doc = await theDocument();
    const op = doc.paths['/v1/bands/{band}/trigger'].post;
    const header = (op.parameters as Json[]).find((p) => p.in === 'header')!;
    expect(header).toMatchObject({ name: 'Idempotency-Key', required: false, schema: { type: 'string', minLength: 1, maxLength: 200 } });
    expect(op.responses[400]).toBeDefined();
    const site = await newSite();
    const trigger = (headers: Record<string, string>) => api(site, '/v1/bands/hot/trigger', { method: 'POST', headers });
    expect((await trigger({})).status).toBe(202);
    expect((await trigger({ 'idempotency-key': 'k'.repeat(201) })).status).toBe(400);
    expect((await trigger({ 'idempotency-key': 'with space' })).status).toBe(400);
    expect((await trigger({ 'idempotency-key': 'k'.repeat(200) })).status).toBe(202);
  });

  it('documents the query of GET /v1/leads as the route validates it', async () => {
    const doc = await theDocument();
    const params = doc.paths['/v1/leads'].get.parameters as Json[];
    expect(params.map((p) => p.name).sort()).toEqual(Object.keys(LeadListQuery.shape).sort());
    const limit = params.find((p) => p.name === 'limit')!;
    expect(limit).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 200 } });
    // The documented bounds are the schema's, and the route's.
    const { minimum, maximum } = limit.schema as { minimum: number; maximum: number };
    const accepted = (n: number) => LeadListQuery.safeParse({ limit: String(n) }).success;
    expect([minimum - 1, minimum, maximum, maximum + 1].map(accepted)).toEqual([false, true, true, false]);
    const site = await newSite();
    expect((await api(site, `/v1/leads?limit=${maximum}`)).status).toBe(200);
    expect((await api(site, `/v1/leads?limit=${maximum + 1}`)).status).toBe(400);
    // The input side of a transform: what a client sends, not what the route turns it into.
    const excluded = params.find((p) => p.name === 'excluded')!.schema as { enum: string[] };
    expect(excluded.enum.every((v) => LeadListQuery.safeParse({ excluded: v }).success)).toBe(true);
  });

  // Every operation documented when this was written. A new one is documented by its entry in
  // spec.ts alone; its answer is checked once a call to it is added here.
  it('describes the answer of every operation as the route gives it', async () => {
    const site = await newSite();
    /** The answer has the documented status, and parsing it with the documented schema neither fails nor drops a field. */
    async function answers(id: string, res: Response) {
      const op = operations.find((o) => o.id === id)!;
      const body = await res.json();
      expect(res.status, `${id}: ${JSON.stringify(body)}`).toBe(op.status ?? 200);
      const parsed = op.response?.parse(body);
      // The document's own schema names its head only; every other answer is described whole.
      if (id !== 'getOpenApi') expect(parsed, id).toEqual(body);
      return body as Json;
    }
    const post = (path: string, body?: unknown) => api(site, path, { method: 'POST', ...(body ? { body: JSON.stringify(body) } : {}) });

    await answers('getOpenApi', await call('/v1/openapi.json'));
    await answers(
      'collect',
      await collect({
        site: site.siteKey,
        events: [
          browserEvent('v1', 'identify', { traits: { email: 'ana@acme.io', jobTitle: 'CMO' } }),
          browserEvent('v1', 'page_view', { url: `${ORIGIN}/pricing` }),
          { id: 'bad' },
        ],
      }),
    );
    await answers('sendEvents', await post('/v1/events', { events: [{ id: 'srv-1', type: 'email_open', ts: Date.now(), email: 'ana@acme.io' }] }));
    await answers('listBands', await api(site, '/v1/bands'));
    const { leads } = await answers('listLeads', await api(site, '/v1/leads'));
    const id = leads[0].id as string;
    await answers(
      'updateLead',
      await api(site, `/v1/leads/${id}`, { method: 'PATCH', body: JSON.stringify({ stage: 'sql', feedback: { fit: 'good', note: 'met them' } }) }),
    );
    const lead = await answers('getLead', await api(site, `/v1/leads/${id}`));
    expect(new Set(lead.timeline.map((t: Json) => t.kind))).toEqual(new Set(['event', 'transition']));
    expect(lead.feedback).toHaveLength(1);

    await answers('getQuality', await api(site, '/v1/quality'));
    await answers('suggestWeights', await api(site, '/v1/quality/suggestion'));

    await answers('getLatestRecompute', await api(site, '/v1/model/recompute'));
    const { model } = await answers('getModel', await api(site, '/v1/model'));
    await answers('backtestModel', await post('/v1/quality/backtest', { model }));
    const generous = { ...model, behaviourRules: model.behaviourRules.map((r: Json) => ({ ...r, points: 500 })) };
    const preview = await answers('previewModel', await post('/v1/model/preview', { model: generous }));
    expect(preview.sample.length).toBeGreaterThan(0);
    await answers('saveModel', await api(site, '/v1/model', { method: 'PUT', body: JSON.stringify(model) }));
    await answers('listModelVersions', await api(site, '/v1/model/versions'));
    await answers('getModelVersion', await api(site, '/v1/model/versions/1'));
    const { recompute } = await answers('restoreModelVersion', await post('/v1/model/versions/0/restore'));
    await waitForRecompute(site, recompute.id);
    await answers('getRecompute', await api(site, `/v1/model/recompute/${recompute.id}`));
    await answers('getLatestRecompute', await api(site, '/v1/model/recompute'));

    const hot = lead.band as string;
    await answers('getSegmentStats', await api(site, '/v1/bands/stats'));
    await answers('listBandMembers', await api(site, `/v1/bands/${hot}/members`));
    const { webhook } = await answers('createWebhook', await post('/v1/webhooks', { url: `${inject('receiverUrl')}/openapi`, types: ['branch.triggered'] }));
    await answers('triggerBand', await api(site, `/v1/bands/${hot}/trigger`, { method: 'POST', headers: { 'idempotency-key': 'openapi-1' } }));
    await answers('listChanges', await api(site, '/v1/changes'));
    await answers('listWebhooks', await api(site, '/v1/webhooks'));
    await answers('getWebhook', await api(site, `/v1/webhooks/${webhook.id}`));
    await dispatchWebhooks(env.DB, { deadline: Date.now() + 10_000 });
    const { deliveries } = await answers('listDeliveries', await api(site, `/v1/webhooks/${webhook.id}/deliveries`));
    expect(deliveries).toHaveLength(1);
    await answers('retryDelivery', await post(`/v1/webhooks/${webhook.id}/deliveries/${deliveries[0].id}/retry`));
    // The retry's own dispatch runs after the answer: let it finish before the subscription goes.
    await expect
      .poll(async () => (await env.DB.prepare(`SELECT status FROM deliveries WHERE id = ?`).bind(deliveries[0].id).first('status')), { timeout: 10_000 })
      .toBe('delivered');
    const gone = await api(site, `/v1/webhooks/${webhook.id}`, { method: 'DELETE' });
    expect(gone.status).toBe(204);
  });

  it('describes the error answers as they are', async () => {
    const site = await newSite();
    const errors = [
      await call('/v1/leads'),
      await api(site, '/v1/leads?limit=0'),
      await api(site, '/v1/leads/ld_nobody'),
      await api(site, '/v1/model/versions/7'),
    ];
    expect(errors.map((r) => r.status)).toEqual([401, 400, 404, 404]);
    for (const res of errors) {
      const body = await res.json();
      expect(ErrorBody.parse(body)).toEqual(body);
    }
  });
});

/** Leaves no recompute running behind the test. */
async function waitForRecompute(site: TestSite, id: string) {
  for (let i = 0; i < 100; i++) {
    const { recompute } = (await (await api(site, `/v1/model/recompute/${id}`)).json()) as { recompute: { status: string } };
    if (recompute.status !== 'running') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the recompute never finished');
}
