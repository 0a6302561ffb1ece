import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { database } from '../../worker/db/client';
import { cachedSiteBySiteKey, SITE_TTL_MS } from '../../worker/db/site-cache';
import worker from '../../worker/index';
import { DEFAULT_MODEL } from '../../worker/scoring/default-model';
import { api, browserEvent, BROWSER_UA, call, collect, newSite, ORIGIN, rowCounts, type TestSite } from './helpers';

/** Collect with `D1_METERING=on`: the answer says which statements ran, in which round trips. */
async function metered(site: TestSite, events: unknown[], { origin = ORIGIN, userAgent = BROWSER_UA } = {}) {
  const request = new Request('https://leadscore.test/v1/collect', {
    method: 'POST',
    headers: { origin, 'user-agent': userAgent },
    body: JSON.stringify({ site: site.siteKey, events }),
  });
  const res = await worker.fetch(request, { ...env, D1_METERING: 'on' }, createExecutionContext());
  const trips = (res.headers.get('leadscore-d1-statements') ?? '').split(' | ').filter(Boolean);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, trips, readsSite: trips.some((t) => /select sites/.test(t)) };
}

const view = (visitor: string, path = '/') => browserEvent(visitor, 'page_view', { url: `${ORIGIN}${path}` });
const identify = (visitor: string, email: string) => browserEvent(visitor, 'identify', { traits: { email } });
const one = <T>(sql: string, ...params: unknown[]) => env.DB.prepare(sql).bind(...params).first<T>();

/** The default model with page views worth `points`, as a document `PUT /v1/model` takes. */
const withPageViews = (points: number) => ({
  ...DEFAULT_MODEL,
  behaviourRules: DEFAULT_MODEL.behaviourRules.map((r) => (r.id === 'page-view' ? { ...r, points } : r)),
});

describe('the isolate keeps sites a few seconds', () => {
  it('reads the site on its first request only: the next ones are the read batch and the write batch, or the write alone', async () => {
    const site = await newSite();
    const first = await metered(site, [view('sc1')]);
    expect(first.status).toBe(202);
    // The site, then the write alone: a new visitor's page view is guessed anonymous (see `ingest`).
    expect(first.trips).toHaveLength(2);
    expect(first.trips[0]).toMatch(/^select sites \d+\/0$/);
    // The visitor the isolate wrote last is recalled, not read (see `ingest/recall`): the write
    // alone; an identify is read first.
    for (const [events, trips] of [[[view('sc1', '/pricing')], 1], [[identify('sc1', 'sc1@acme.io')], 2], [[view('sc2')], 1]] as const) {
      const next = await metered(site, [...events]);
      expect(next.status).toBe(202);
      expect(next.readsSite).toBe(false);
      expect(next.trips).toHaveLength(trips);
    }
    // Another site's key is a lookup of its own.
    expect((await metered(await newSite(), [view('sc3')])).readsSite).toBe(true);
  });

  it('scores with a model saved through this isolate from the next request', async () => {
    const site = await newSite();
    await metered(site, [identify('sm1', 'sm1@acme.io')]);
    expect((await api(site, '/v1/model', { method: 'PUT', body: JSON.stringify(withPageViews(40)) })).status).toBe(201);
    const after = await metered(site, [identify('sm2', 'sm2@acme.io'), view('sm2')]);
    expect(after.readsSite).toBe(true);
    expect(await one('SELECT model_version AS v, activity AS a FROM leads WHERE email = ?', 'sm2@acme.io')).toEqual({ v: 1, a: 40 });
  });

  it('scores with a model saved by another isolate from the next request: the read batch finds it, and the cache takes it', async () => {
    const site = await newSite();
    await metered(site, [identify('so1', 'so1@acme.io')]);
    // As another isolate's PUT /v1/model would: this isolate's copy of the site is not told.
    await env.DB.prepare('INSERT INTO models (site_id, version, document, created_at) VALUES (?, 1, ?, 0)')
      .bind(site.id, JSON.stringify(withPageViews(40)))
      .run();
    const first = await metered(site, [identify('so2', 'so2@acme.io'), view('so2')]);
    expect(first.readsSite).toBe(false);
    // The read batch, the newer model's document, the write batch.
    expect(first.trips).toHaveLength(3);
    expect(first.trips[1]).toMatch(/^select models \d+\/0$/);
    expect(await one('SELECT model_version AS v, activity AS a FROM leads WHERE email = ?', 'so2@acme.io')).toEqual({ v: 1, a: 40 });
    const next = await metered(site, [identify('so3', 'so3@acme.io'), view('so3')]);
    expect(next.trips).toHaveLength(2);
    expect(await one('SELECT model_version AS v, activity AS a FROM leads WHERE email = ?', 'so3@acme.io')).toEqual({ v: 1, a: 40 });
  });

  it('holds origins changed by another isolate until the entry expires; a change through this isolate holds at once', async () => {
    const [a, b] = ['https://a.acme.example', 'https://b.acme.example'];
    const site = await newSite([a]);
    expect((await metered(site, [view('soa')], { origin: a })).status).toBe(202);
    // As another isolate's /admin would: `b` replaces `a`.
    await env.DB.prepare('UPDATE sites SET origins = ? WHERE id = ?').bind(JSON.stringify([b]), site.id).run();
    expect((await metered(site, [view('soa')], { origin: a })).status).toBe(202);
    expect((await metered(site, [view('sob')], { origin: b })).status).toBe(403);
    // Once the entry is older than the TTL, the site is read again.
    const later = await cachedSiteBySiteKey(database(env.DB), site.siteKey, Date.now() + SITE_TTL_MS + 1);
    expect(later?.origins).toEqual([b]);
    expect((await metered(site, [view('soa')], { origin: a })).status).toBe(403);
    expect((await metered(site, [view('sob')], { origin: b })).status).toBe(202);

    // Through this isolate's /admin, at once.
    const admin = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };
    const put = await call(`/admin/sites/${site.id}`, { method: 'PUT', headers: admin, body: JSON.stringify({ name: site.id, origins: [a] }) });
    expect(put.status).toBe(200);
    expect((await metered(site, [view('soa')], { origin: a })).status).toBe(202);
    expect((await metered(site, [view('sob')], { origin: b })).status).toBe(403);
  });

  it('answers 403 unknown_site_key for a site deleted while cached, and stores nothing', async () => {
    const site = await newSite();
    expect((await metered(site, [view('sd1')])).status).toBe(202);
    await env.DB.prepare('DELETE FROM sites WHERE id = ?').bind(site.id).run();
    for (const userAgent of [BROWSER_UA, 'Googlebot/2.1 (+http://www.google.com/bot.html)']) {
      const res = await metered(site, [view('sd2'), identify('sd2', 'sd2@acme.io')], { userAgent });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: { code: 'unknown_site_key' } });
    }
    // Forgotten: the next request looks the key up again and is refused before any write.
    const again = await metered(site, [view('sd3')]);
    expect(again.status).toBe(403);
    expect(again.trips).toEqual([expect.stringMatching(/^select sites 0\/0$/)]);
    expect(await rowCounts(site.id)).toEqual({ events: 0, visitors: 0, leads: 0, transitions: 0 });
  });

  it("drops a queued message of a site deleted while the consumer's isolate held it, rather than retrying it", async () => {
    const [gone, kept] = [await newSite(), await newSite()];
    const consume = async (bodies: unknown[]) => {
      const batch = createMessageBatch('leadscore-events', bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })));
      const ctx = createExecutionContext();
      await worker.queue(batch, env, ctx);
      return getQueueResult(batch, ctx);
    };
    const message = (s: TestSite, visitor: string) => ({ kind: 'events', siteId: s.id, events: [view(visitor)] });
    expect((await consume([message(gone, 'sq1')])).explicitAcks).toEqual(['m0']);
    expect(await rowCounts(gone.id)).toMatchObject({ events: 1 });
    await env.DB.prepare('DELETE FROM sites WHERE id = ?').bind(gone.id).run();
    const result = await consume([message(gone, 'sq2'), message(kept, 'sq3')]);
    expect(result.explicitAcks.sort()).toEqual(['m0', 'm1']);
    expect(result.retryMessages).toEqual([]);
    expect(await rowCounts(gone.id)).toEqual({ events: 0, visitors: 0, leads: 0, transitions: 0 });
    expect(await rowCounts(kept.id)).toMatchObject({ events: 1 });
  });

  it('dispatches at once for a webhook created through this isolate', async () => {
    const site = await newSite();
    expect((await collect({ site: site.siteKey, events: [view('sw1')] })).status).toBe(202);
    expect((await cachedSiteBySiteKey(database(env.DB), site.siteKey))?.hasWebhooks).toBe(false);
    const hook = await api(site, '/v1/webhooks', { method: 'POST', body: JSON.stringify({ url: 'https://hooks.acme.example/leadscore', types: ['lead.band_changed'] }) });
    expect(hook.status).toBe(201);
    expect((await cachedSiteBySiteKey(database(env.DB), site.siteKey))?.hasWebhooks).toBe(true);
  });
});
