import { env } from 'cloudflare:workers';
import { describe, expect, inject, it } from 'vitest';
import { dispatchWebhooks } from '../../worker/webhooks/dispatch';
import { LEASE_MS } from '../../worker/webhooks/send';
import { api, browserEvent, collect, newSite, ORIGIN, type TestSite } from './helpers';

const identify = (visitor: string, email: string, traits: Record<string, unknown> = {}) =>
  browserEvent(visitor, 'identify', { traits: { email, ...traits } });
const pages = (visitor: string, ...paths: string[]) => paths.map((p) => browserEvent(visitor, 'page_view', { url: `${ORIGIN}${p}` }));

interface Received {
  id: string;
  verified: boolean;
  answered: number;
  body: { type: string; timestamp: string; data: { id: string; type: string; lead: { id: string } | null } };
}

const receiver = inject('receiverUrl');
let paths = 0;
/** A receiver of its own, set up to verify with `secret`, to fail its first `failFirst` requests, and to answer `answer` (204). */
async function newReceiver(plan: { failFirst?: number; delayMs?: number; answer?: number } = {}) {
  const path = `/hooks/${Date.now().toString(36)}-${++paths}`;
  return {
    url: `${receiver}${path}`,
    plan: (p: Record<string, unknown>) => fetch(`${receiver}/_plan${path}`, { method: 'POST', body: JSON.stringify({ ...plan, ...p }) }),
    log: async () => (await (await fetch(`${receiver}/_log${path}`)).json()) as Received[],
  };
}

async function subscribe(site: TestSite, url: string, extra: Record<string, unknown> = {}) {
  const res = await api(site, '/v1/webhooks', {
    method: 'POST',
    body: JSON.stringify({ url, types: ['lead.band_changed', 'lead.stage_changed', 'lead.excluded', 'lead.included', 'branch.triggered'], ...extra }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { webhook: { id: string; secret: string; url: string } }).webhook;
}

/**
 * Waits for the dispatches that requests start on their own (`waitUntil`) to be over, so that the
 * test's own dispatches, at clocks hours ahead, never overlap one still sending.
 */
async function settle(r: { log(): Promise<Received[]> }) {
  let last = -1;
  for (;;) {
    await new Promise((ok) => setTimeout(ok, 300));
    const { n } = (await env.DB.prepare('SELECT count(*) AS n FROM deliveries WHERE lease_until > ?').bind(Date.now()).first<{ n: number }>())!;
    const seen = (await r.log()).length;
    if (n === 0 && seen === last) return;
    last = seen;
  }
}

/** Runs the dispatcher as the cron would at `now`. */
const dispatch = (now: number) => dispatchWebhooks(env.DB, { now, deadline: Date.now() + 20_000 });

const HOUR = 3600_000;

/** A few leads that go warm, then hot: several changes per lead, in an order that matters. */
async function makeChanges(site: TestSite, n: number) {
  for (let i = 0; i < n; i++) {
    await collect({ site: site.siteKey, events: [identify(`w${i}`, `w${i}@acme.io`, { jobTitle: 'Marketing' })] });
    await collect({ site: site.siteKey, events: pages(`w${i}`, '/pricing', '/pricing', '/pricing', '/pricing') });
  }
}

const feedIds = async (site: TestSite) =>
  ((await (await api(site, '/v1/changes?limit=1000')).json()) as { items: { id: string }[] }).items.map((i) => i.id);

describe('webhooks', () => {
  it('delivers every change exactly once per webhook-id, signed, in order per lead, through failures', async () => {
    const site = await newSite();
    const r = await newReceiver({ failFirst: 4 });
    const hook = await subscribe(site, r.url);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    await r.plan({ secret: hook.secret });
    await makeChanges(site, 4);
    await settle(r);

    let now = Date.now();
    for (let round = 0; round < 12; round++, now += HOUR) await dispatch(now);

    const log = await r.log();
    expect(log.filter((x) => x.answered === 503)).toHaveLength(4);
    expect(log.every((x) => x.verified)).toBe(true);
    const ok = log.filter((x) => x.answered === 204);
    // Exactly once each once delivered, and exactly the feed's items.
    expect(new Set(ok.map((x) => x.id)).size).toBe(ok.length);
    expect(ok.map((x) => x.body.data.id).sort()).toEqual((await feedIds(site)).sort());
    // In order per lead: a lead's changes arrive in the order of their ids.
    const seqOf = (x: Received) => Number(x.body.data.id.slice('chg_'.length));
    const byLead = new Map<string, Received[]>();
    for (const x of ok) byLead.set(x.body.data.lead!.id, [...(byLead.get(x.body.data.lead!.id) ?? []), x]);
    expect(byLead.size).toBe(4);
    for (const arrivals of byLead.values()) expect(arrivals.map(seqOf)).toEqual(arrivals.map(seqOf).sort((a, b) => a - b));
    expect(ok[0]!.body).toMatchObject({ type: expect.stringMatching(/^lead\./), timestamp: expect.any(String) });

    // The log shows each attempt; a delivery that failed first shows the failure, then the success.
    const deliveries = (await (await api(site, `/v1/webhooks/${hook.id}/deliveries?limit=200`)).json()) as {
      deliveries: { status: string; attempts: number; log: { status: number | null }[] }[];
    };
    expect(deliveries.deliveries.every((d) => d.status === 'delivered')).toBe(true);
    const retried = deliveries.deliveries.filter((d) => d.attempts > 1);
    expect(retried.length).toBeGreaterThan(0);
    expect(retried[0]!.log.map((a) => a.status)).toEqual([204, ...Array(retried[0]!.attempts - 1).fill(503)]);
  });

  it('loses nothing when a dispatcher dies between claiming deliveries and sending them', async () => {
    const site = await newSite();
    // Down while the changes happen: the deliveries exist, pending, when the dispatcher below dies.
    const r = await newReceiver({ failFirst: 1e9 });
    const hook = await subscribe(site, r.url);
    await r.plan({ secret: hook.secret });
    await makeChanges(site, 2);
    await settle(r);
    const failures = (await r.log()).length;
    await r.plan({ failFirst: 0 });
    const now = Date.now() + HOUR;
    const pending = (await env.DB.prepare(`SELECT id FROM deliveries WHERE webhook_id = ? AND status = 'pending'`).bind(hook.id).all<{ id: string }>()).results;
    expect(pending.length).toBeGreaterThan(2);
    // What a dispatcher does before it sends: claim with a lease. Then it is gone.
    await env.DB.prepare('UPDATE deliveries SET lease_until = ? WHERE webhook_id = ?').bind(now + LEASE_MS, hook.id).run();
    await dispatch(now + 1000);
    expect(await r.log()).toHaveLength(failures);
    // Once the lease is over, the next dispatchers send every one of them, once, in order per lead.
    for (let i = 1; i <= 4; i++) await dispatch(now + LEASE_MS + i * HOUR);
    const ok = (await r.log()).filter((x) => x.answered === 204);
    expect(ok.map((x) => x.id).sort()).toEqual(pending.map((d) => d.id).sort());
    expect(ok.every((x) => x.verified)).toBe(true);
  });

  it('disables a webhook failing for days, keeps its deliveries, and stops sending', async () => {
    const site = await newSite();
    const r = await newReceiver({ failFirst: 1e9 });
    const hook = await subscribe(site, r.url, { types: ['lead.band_changed'] });
    await r.plan({ secret: hook.secret });
    await makeChanges(site, 1);
    await settle(r);
    const t0 = Date.now() + HOUR;
    // Two changes of one lead, one after the other: the second waits for the first to be spent.
    for (let h = 0; h <= 64; h++) await dispatch(t0 + h * HOUR);
    const status = async () => ((await (await api(site, `/v1/webhooks/${hook.id}`)).json()) as { webhook: { status: string; deliveries: Record<string, number> } }).webhook;
    const spent = await status();
    expect(spent.status).toBe('failing');
    expect(spent.deliveries.pending).toBe(0);
    expect(spent.deliveries.failed).toBeGreaterThan(0);
    // Eight attempts each, over more than a day.
    const attempts = (await env.DB.prepare('SELECT attempts FROM deliveries WHERE webhook_id = ?').bind(hook.id).all<{ attempts: number }>()).results;
    expect(new Set(attempts.map((a) => a.attempts))).toEqual(new Set([8]));

    await collect({ site: site.siteKey, events: [identify('late', 'late@acme.io', { jobTitle: 'Marketing' })] });
    await dispatch(t0 + 6 * 24 * HOUR);
    expect((await status()).status).toBe('disabled');
    const sent = (await r.log()).length;
    await collect({ site: site.siteKey, events: [identify('later', 'later@acme.io', { jobTitle: 'Marketing' })] });
    for (let h = 0; h < 3; h++) await dispatch(t0 + 7 * 24 * HOUR + h * HOUR);
    expect((await r.log()).length).toBe(sent);
    expect((await api(site, `/v1/webhooks/${hook.id}`)).status).toBe(200);
  });

  it('retries a failed delivery by hand', async () => {
    const site = await newSite();
    const r = await newReceiver({ failFirst: 8 });
    const hook = await subscribe(site, r.url, { types: ['branch.triggered'] });
    await r.plan({ secret: hook.secret });
    await collect({ site: site.siteKey, events: [identify('h1', 'hand@acme.io', { jobTitle: 'Marketing' })] });
    expect((await api(site, '/v1/bands/warm/trigger', { method: 'POST', headers: { 'idempotency-key': 'k1' } })).status).toBe(202);
    await settle(r);
    const t0 = Date.now() + HOUR;
    for (let h = 0; h <= 30; h++) await dispatch(t0 + h * HOUR);
    const list = async () =>
      ((await (await api(site, `/v1/webhooks/${hook.id}/deliveries`)).json()) as { deliveries: { id: string; status: string; type: string }[] }).deliveries;
    const [failed] = await list();
    expect(failed).toMatchObject({ status: 'failed', type: 'branch.triggered' });
    const retry = await api(site, `/v1/webhooks/${hook.id}/deliveries/${failed!.id}/retry`, { method: 'POST' });
    expect(retry.status).toBe(202);
    // The retry does not wait for the cron: the route sends it on its way at once.
    await expect.poll(async () => (await list())[0], { timeout: 10_000 }).toMatchObject({ id: failed!.id, status: 'delivered' });
    const ok = (await r.log()).filter((x) => x.answered === 204);
    expect(ok.map((x) => x.id)).toEqual([failed!.id]);
    expect((await api(site, `/v1/webhooks/${hook.id}/deliveries/msg_nope/retry`, { method: 'POST' })).status).toBe(404);
  });

  it('validates subscriptions, shows the secret once, filters by band, and deletes', async () => {
    const site = await newSite();
    const bad = await api(site, '/v1/webhooks', { method: 'POST', body: JSON.stringify({ url: 'ftp://x', types: ['lead.nope'], extra: 1 }) });
    expect(bad.status).toBe(400);
    const issues = ((await bad.json()) as { error: { issues: { path: string[] }[] } }).error.issues.map((i) => i.path[0]);
    expect(issues).toEqual(expect.arrayContaining(['types', 'url']));
    expect((await api(site, '/v1/webhooks', { method: 'POST', body: JSON.stringify({ url: 'https://x.example/h', types: ['branch.triggered'], band: 'lukewarm' }) })).status).toBe(400);

    const r = await newReceiver();
    const hook = await subscribe(site, r.url, { band: 'hot', types: ['lead.band_changed'] });
    await r.plan({ secret: hook.secret });
    const listed = (await (await api(site, '/v1/webhooks')).json()) as { webhooks: Record<string, unknown>[] };
    expect(listed.webhooks).toHaveLength(1);
    expect(listed.webhooks[0]).not.toHaveProperty('secret');
    expect(listed.webhooks[0]).toMatchObject({ id: hook.id, band: 'hot', status: 'active' });

    await makeChanges(site, 1);
    await settle(r);
    await dispatch(Date.now());
    // Of null → warm and warm → hot, only the change into hot concerns the hot band.
    expect((await r.log()).map((x) => [x.body.data.type, (x.body.data as unknown as { to: string }).to])).toEqual([['lead.band_changed', 'hot']]);

    const other = await newSite();
    expect((await api(other, `/v1/webhooks/${hook.id}`)).status).toBe(404);
    expect((await api(site, `/v1/webhooks/${hook.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(site, `/v1/webhooks/${hook.id}`)).status).toBe(404);
  });

  it('unsubscribes by target URL: every subscription of the site to it, and no other', async () => {
    const site = await newSite();
    const other = await newSite();
    const url = 'https://hooks.example/n8n/abc?x=1';
    const mine = [await subscribe(site, url, { types: ['lead.band_changed'] }), await subscribe(site, url, { types: ['lead.excluded'] })];
    const kept = await subscribe(site, 'https://hooks.example/other', { types: ['lead.band_changed'] });
    const theirs = await subscribe(other, url, { types: ['lead.band_changed'] });
    const unsubscribe = (s: TestSite, query: string) => api(s, `/v1/webhooks${query}`, { method: 'DELETE' });

    const res = await unsubscribe(site, `?url=${encodeURIComponent(url)}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { deleted: string[] }).deleted.sort()).toEqual(mine.map((h) => h.id).sort());
    const left = (await (await api(site, '/v1/webhooks')).json()) as { webhooks: { id: string }[] };
    expect(left.webhooks.map((w) => w.id)).toEqual([kept.id]);
    expect((await api(other, `/v1/webhooks/${theirs.id}`)).status).toBe(200);
    // Retried, it finds nothing and says so; without a URL it deletes nothing at all.
    expect(await (await unsubscribe(site, `?url=${encodeURIComponent(url)}`)).json()).toEqual({ deleted: [] });
    const bare = await unsubscribe(site, '');
    expect(bare.status).toBe(400);
    expect(((await bare.json()) as { error: { issues: { path: unknown[] }[] } }).error.issues[0]!.path).toEqual(['url']);
    expect((await api(site, `/v1/webhooks/${kept.id}`)).status).toBe(200);

    // A URL is one target however it is spelled: stored parsed, matched parsed.
    const spelled = await subscribe(site, 'HTTPS://Hooks.Example:443/zap?y=2', { types: ['lead.band_changed'] });
    expect(spelled.url).toBe('https://hooks.example/zap?y=2');
    expect(await (await unsubscribe(site, `?url=${encodeURIComponent('https://hooks.EXAMPLE/zap?y=2')}`)).json()).toEqual({ deleted: [spelled.id] });
    // A malformed URL is an error, not a delete of nothing.
    const malformed = await unsubscribe(site, '?url=hooks.example%2Fzap');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { issues: { path: unknown[]; message: string }[] } }).error.issues[0]).toMatchObject({ path: ['url'], message: 'must be an http(s) URL' });
  });
  it('counts any 2xx answer as delivered, and a redirect as a failure it does not follow', async () => {
    const site = await newSite();
    const answers = [200, 299, 300, 302];
    const hooks = [];
    for (const answer of answers) {
      const r = await newReceiver({ answer });
      const hook = await subscribe(site, r.url);
      await r.plan({ secret: hook.secret });
      hooks.push({ answer, r, hook });
    }
    await makeChanges(site, 1);
    for (const { r } of hooks) await settle(r);
    await dispatch(Date.now());
    const changes = (await feedIds(site)).length;
    expect(changes).toBeGreaterThan(0);
    for (const { answer, r, hook } of hooks) {
      const { deliveries } = (await (await api(site, `/v1/webhooks/${hook.id}/deliveries?limit=200`)).json()) as {
        deliveries: { status: string; log: { status: number | null; error: string | null }[] }[];
      };
      expect(deliveries, `answered ${answer}`).toHaveLength(changes);
      expect((await r.log()).every((x) => x.verified && x.answered === answer)).toBe(true);
      if (answer < 300) {
        for (const d of deliveries) expect([d.status, d.log.map((a) => [a.status, a.error])], `answered ${answer}`).toEqual(['delivered', [[answer, null]]]);
      } else {
        // Pending, to be tried again; the lead's later changes wait behind its first.
        expect(deliveries.every((d) => d.status === 'pending')).toBe(true);
        const tried = deliveries.filter((d) => d.log.length);
        expect(tried.length).toBeGreaterThan(0);
        for (const d of tried) expect(d.log.map((a) => [a.status, a.error]), `answered ${answer}`).toEqual([[answer, `HTTP ${answer}`]]);
      }
    }
  });

  it("tells a band's subscription of the stage changes of its band's leads alone", async () => {
    const site = await newSite();
    const r = await newReceiver();
    const hook = await subscribe(site, r.url, { band: 'hot', types: ['lead.stage_changed'] });
    await r.plan({ secret: hook.secret });
    // One lead hot, one warm; sales move both to SQL.
    await makeChanges(site, 1);
    await collect({ site: site.siteKey, events: [identify('lw', 'lw@acme.io', { jobTitle: 'Marketing' })] });
    const [hot, warm] = await Promise.all(
      ['w0@acme.io', 'lw@acme.io'].map(async (email) => ((await (await api(site, `/v1/leads?q=${encodeURIComponent(email)}`)).json()) as { leads: { id: string; band: string }[] }).leads[0]!),
    );
    expect([hot!.band, warm!.band]).toEqual(['hot', 'warm']);
    for (const lead of [hot!, warm!]) expect((await api(site, `/v1/leads/${lead.id}`, { method: 'PATCH', body: JSON.stringify({ stage: 'sql' }) })).status).toBe(200);
    await settle(r);
    await dispatch(Date.now());
    const got = (await r.log()).map((x) => [x.body.data.type, x.body.data.lead?.id, (x.body.data as unknown as { to: string }).to]);
    expect(got).toContainEqual(['lead.stage_changed', hot!.id, 'sql']);
    expect(got.every(([, lead]) => lead === hot!.id)).toBe(true);
  });
});
