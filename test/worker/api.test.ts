import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { SNIPPET_JS } from '../../worker/generated/assets';
import { DEFAULT_MODEL } from '../../worker/scoring/default-model';
import { api, browserEvent, call, collect, eventId, leadByEmail, newSite, ORIGIN, type LeadJson } from './helpers';

const identify = (visitor: string, email: string, traits: Record<string, unknown> = {}) =>
  browserEvent(visitor, 'identify', { traits: { email, ...traits } });
const pages = (visitor: string, ...paths: string[]) => paths.map((p) => browserEvent(visitor, 'page_view', { url: `${ORIGIN}${p}` }));

describe('the /v1 API', () => {
  it('refuses requests without a valid secret key', async () => {
    const refusals = [
      // Not a key's form at all: said so, before any lookup.
      [undefined, 'sign in to the dashboard'],
      ['Bearer nope', 'send a secret API key as'],
      ['Bearer', 'send a secret API key as'],
      ['Basic abc', 'send a secret API key as'],
      // A key's form, but no such key.
      ['Bearer sk_0000000000000000000000000000000', 'unknown or revoked'],
    ] as const;
    for (const [authorization, message] of refusals) {
      const res = await call('/v1/leads', { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe('unauthorized');
      expect(error.message, String(authorization)).toContain(message);
    }
  });

  it("never shows one site's leads to another site's key", async () => {
    const a = await newSite();
    const b = await newSite();
    await collect({ site: a.siteKey, events: [identify('va', 'gil@acme.io')] });
    const lead = await leadByEmail(a, 'gil@acme.io');
    expect(lead).toBeDefined();
    expect((await api(b, `/v1/leads/${lead!.id}`)).status).toBe(404);
    expect(((await (await api(b, '/v1/leads')).json()) as { leads: unknown[] }).leads).toEqual([]);
  });

  it('lists bands with their branch and member counts, and excluded leads apart', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [identify('c1', 'cold@acme.io')] });
    await collect({ site: site.siteKey, events: [identify('w1', 'warm@acme.io', { jobTitle: 'Marketing' })] });
    await collect({ site: site.siteKey, events: [identify('x1', 'student@acme.io', { jobTitle: 'Student' })] });
    await collect({ site: site.siteKey, events: [identify('x2', 'someone@gmail.com')] });
    const res = await api(site, '/v1/bands');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      bands: [
        { name: 'cold', min: 0, max: 25, branch: 'generic-content', description: expect.any(String), count: 1, yesterday: null },
        { name: 'warm', min: 25, max: 75, branch: 'technical-content', description: expect.any(String), count: 1, yesterday: null },
        { name: 'hot', min: 75, max: null, branch: 'sales-meeting', description: expect.any(String), count: 0, yesterday: null },
      ],
      excluded: { count: 2, yesterday: null },
      total: 4,
    });
    const excluded = (await (await api(site, '/v1/leads?excluded=true')).json()) as { leads: LeadJson[] };
    expect(excluded.leads.map((l) => [l.email, l.excluded?.reason, l.band]).sort()).toEqual([
      ['someone@gmail.com', 'Free e-mail domain', null],
      ['student@acme.io', 'Student', null],
    ]);
  });

  it('filters, searches and pages leads without skipping or repeating one', async () => {
    const site = await newSite();
    for (let i = 0; i < 7; i++) {
      await collect({ site: site.siteKey, events: [identify(`p${i}`, `lead${i}@acme.io`, { company: i % 2 ? 'Odd Corp' : 'Even SA' }), ...pages(`p${i}`, ...Array(i).fill('/x'))] });
    }
    // Excluded, with a score among the others': the list without a band filter merges the bands'
    // runs and the excluded one by score.
    await collect({ site: site.siteKey, events: [identify('g1', 'free@gmail.com'), ...pages('g1', '/x', '/x', '/x')] });
    const pageThrough = async (filter: string) => {
      const seen: LeadJson[] = [];
      let cursor: string | null = null;
      do {
        const res = await api(site, `/v1/leads?limit=3${filter}${cursor ? `&cursor=${cursor}` : ''}`);
        const body = (await res.json()) as { leads: LeadJson[]; nextCursor: string | null };
        seen.push(...body.leads);
        cursor = body.nextCursor;
      } while (cursor);
      return seen;
    };
    const all = await pageThrough('');
    const free = all.find((l) => l.email === 'free@gmail.com')!;
    expect(free.band).toBeNull();
    // free@gmail.com ties lead3 on score: ties go by id, as the cursor does.
    const byScoreThenId = [...all].sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : 1));
    expect(all.map((l) => l.email)).toEqual(byScoreThenId.map((l) => l.email));
    expect(all.map((l) => l.email).filter((e) => e !== 'free@gmail.com')).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => `lead${i}@acme.io`));
    expect(all.findIndex((l) => l === free)).toBeGreaterThan(2);
    expect(all.findIndex((l) => l === free)).toBeLessThan(5);
    expect((await pageThrough('&excluded=false')).map((l) => l.email)).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => `lead${i}@acme.io`));
    expect((await pageThrough('&excluded=true')).map((l) => l.email)).toEqual(['free@gmail.com']);
    const warm = (await (await api(site, '/v1/leads?band=warm')).json()) as { leads: LeadJson[] };
    expect(warm.leads.map((l) => l.email)).toEqual(['lead6@acme.io', 'lead5@acme.io']);
    // A band the model does not have is named in a 400, not answered with nobody.
    for (const band of ['wram', 'excluded']) {
      const unknown = await api(site, `/v1/leads?band=${band}`);
      expect(unknown.status).toBe(400);
      expect(((await unknown.json()) as { error: { issues: unknown[] } }).error.issues).toEqual([
        { path: ['band'], message: `no band "${band}" in the model (cold, warm, hot); the leads in no band are listed with excluded=true` },
      ]);
    }
    const search = async (q: string) =>
      ((await (await api(site, `/v1/leads?q=${encodeURIComponent(q)}`)).json()) as { leads: LeadJson[] }).leads.map((l) => l.email);
    expect(await search('odd corp')).toEqual(['lead5@acme.io', 'lead3@acme.io', 'lead1@acme.io']);
    // Through the trigram index (3 characters or more), kept in step with profile changes by triggers.
    await collect({ site: site.siteKey, events: [identify('p5', 'lead5@acme.io', { company: 'Initech', firstName: 'Zoë' })] });
    expect(await search('odd corp')).toEqual(['lead3@acme.io', 'lead1@acme.io']);
    expect(await search('INITECH')).toEqual(['lead5@acme.io']);
    expect(await search('zoë')).toEqual(['lead5@acme.io']);
    expect(await search('d6@acme')).toEqual(['lead6@acme.io']);
    // Shorter terms and LIKE wildcards read the leads themselves, with the same answers.
    expect(await search('d6')).toEqual(['lead6@acme.io']);
    expect(await search('100%')).toEqual([]);
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN SELECT rowid FROM lead_search WHERE body LIKE ?`).bind('%initech%').all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join()).toMatch(/VIRTUAL TABLE INDEX/);
    const bad = await api(site, '/v1/leads?limit=0&stage=boss');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { issues: { path: string[] }[] } }).error.issues.map((i) => i.path[0]).sort()).toEqual(['limit', 'stage']);
    expect((await api(site, '/v1/leads?cursor=garbage')).status).toBe(400);
  });

  it('explains a lead: breakdown that adds up to its scores, and a timeline of events and transitions', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [identify('t1', 'hana@acme.io', { jobTitle: 'Marketing' })] });
    await collect({ site: site.siteKey, events: pages('t1', '/pricing', '/pricing', '/references') });
    const lead = (await leadByEmail(site, 'hana@acme.io'))!;
    expect(lead.scores).toEqual({ fit: 25, activity: 15 + 30 + 10, engagement: 0 });
    expect(lead.band).toBe('hot');
    const sum = lead.breakdown.reduce((n, b) => n + b.points, 0);
    expect(sum).toBe(lead.score);
    expect(lead.breakdown.find((b) => b.ruleId === 'pricing-page')).toMatchObject({ points: 30, count: 2 });
    const transitions = lead.timeline.filter((t) => t.kind === 'transition');
    expect(transitions).toEqual([
      expect.objectContaining({ type: 'lead.band_changed', from: 'warm', to: 'hot', branch: 'sales-meeting' }),
      expect.objectContaining({ type: 'lead.band_changed', from: null, to: 'warm', branch: 'technical-content' }),
    ]);
    expect(lead.timeline.filter((t) => t.kind === 'event')).toHaveLength(4);
    expect((await api(site, '/v1/leads/ld_missing')).status).toBe(404);
  });

  it('explains a lead with the model version that scored it, not one a recompute has yet to bring it to', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [identify('mv1', 'mia@acme.io'), ...pages('mv1', '/pricing', '/about')] });
    // A version saved without its recompute having run yet, pricing pages worth 60 where they were 15.
    const candidate = { ...DEFAULT_MODEL, behaviourRules: DEFAULT_MODEL.behaviourRules.map((r) => (r.id === 'pricing-page' ? { ...r, points: 60 } : r)) };
    await env.DB.prepare('INSERT INTO models (site_id, version, document, created_at) VALUES (?, 1, ?, ?)').bind(site.id, JSON.stringify(candidate), Date.now()).run();
    const lead = (await leadByEmail(site, 'mia@acme.io'))!;
    expect(lead.modelVersion).toBe(0);
    expect(lead.scores.activity).toBe(5 + 15 + 5);
    expect(lead.breakdown.find((b) => b.ruleId === 'pricing-page')).toMatchObject({ points: 15, count: 1 });
    expect(lead.breakdown.reduce((n, b) => n + b.points, 0)).toBe(lead.score);
    const events = lead.timeline.filter((t) => t.kind === 'event') as unknown as { score: number | null }[];
    expect(Math.max(...events.map((e) => e.score ?? 0))).toBe(lead.score);
  });

  it('stores a page once per site as a shape, and still shows each event whole', async () => {
    const site = await newSite();
    const visit = (visitor: string, query: string, extra: Record<string, unknown> = {}) =>
      browserEvent(visitor, 'page_view', { url: `${ORIGIN}/pricing?${query}`, title: 'Pricing', ...extra });
    await collect({ site: site.siteKey, events: [identify('sh1', 'ines@acme.io'), visit('sh1', 'gclid=one', { props: { plan: 'pro', seats: 3 } })] });
    await collect({ site: site.siteKey, events: [identify('sh2', 'jon@acme.io'), visit('sh2', 'gclid=two'), visit('sh2', 'fbclid=three')] });
    await collect({ site: site.siteKey, events: [visit('sh2', 'utm_campaign=spring')] });
    const shapes = (
      await env.DB.prepare(`SELECT type, url, props FROM event_shapes WHERE site_id = ? AND type = 'page_view' ORDER BY url, props`).bind(site.id).all()
    ).results;
    // Click ids make no shape of their own; properties and the campaign do.
    expect(shapes).toEqual([
      { type: 'page_view', url: '/pricing', props: null },
      { type: 'page_view', url: '/pricing', props: '{"plan":"pro","seats":3}' },
      { type: 'page_view', url: '/pricing?utm_campaign=spring', props: null },
    ]);
    const jon = (await leadByEmail(site, 'jon@acme.io'))!;
    const ines = (await leadByEmail(site, 'ines@acme.io'))!;
    // Both leads score the pricing page from the shape they share.
    expect(jon.breakdown.find((b) => b.ruleId === 'pricing-page')).toMatchObject({ count: 3 });
    expect(ines.breakdown.find((b) => b.ruleId === 'pricing-page')).toMatchObject({ count: 1 });
    // The timeline and the export show each event's own URL, and its properties.
    const timelineUrls = (jon.timeline as { kind: string; url?: string }[]).filter((t) => t.kind === 'event' && t.url?.includes('pricing')).map((t) => t.url);
    expect(timelineUrls.sort()).toEqual([`${ORIGIN}/pricing?fbclid=three`, `${ORIGIN}/pricing?gclid=two`, `${ORIGIN}/pricing?utm_campaign=spring`]);
    const doc = (await (await api(site, `/v1/leads/${ines.id}/export`)).json()) as { events: Record<string, unknown>[] };
    expect(doc.events.find((e) => e.type === 'page_view')).toMatchObject({ url: `${ORIGIN}/pricing?gclid=one`, title: 'Pricing', props: { plan: 'pro', seats: 3 } });
  });

  it('records stage changes as the lead meets the minimums', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [identify('s1', 'ivan@acme.io', { jobTitle: 'Marketing' }), ...pages('s1', '/a', '/b', '/c', '/d', '/e', '/f')] });
    const res = await api(site, '/v1/events', {
      method: 'POST',
      body: JSON.stringify({
        events: [
          { id: eventId(), type: 'email_open', ts: Date.now(), email: 'ivan@acme.io' },
          { id: eventId(), type: 'email_click', ts: Date.now(), email: 'ivan@acme.io' },
        ],
      }),
    });
    expect(res.status).toBe(202);
    const lead = (await leadByEmail(site, 'ivan@acme.io'))!;
    expect(lead.scores).toEqual({ fit: 25, activity: 30, engagement: 10 });
    expect(lead.stage).toBe('lead');
    expect(lead.timeline).toContainEqual(expect.objectContaining({ type: 'lead.stage_changed', from: 'prospect', to: 'lead' }));
  });

  it('takes server-side events for a new e-mail, and refuses ones that name nobody', async () => {
    const site = await newSite();
    const ok = await api(site, '/v1/events', {
      method: 'POST',
      body: JSON.stringify({ site: site.siteKey, events: [{ id: eventId(), type: 'email_click', ts: Date.now(), email: 'jo@acme.io', traits: { firstName: 'Jo' } }] }),
    });
    expect(ok.status).toBe(202);
    expect((await leadByEmail(site, 'jo@acme.io'))?.profile).toMatchObject({ firstName: 'Jo' });
    const nobody = await api(site, '/v1/events', { method: 'POST', body: JSON.stringify({ events: [{ id: eventId(), type: 'email_open', ts: Date.now() }] }) });
    expect(nobody.status).toBe(400);
    const other = await api(site, '/v1/events', { method: 'POST', body: JSON.stringify({ site: 'pk_someoneelsesitekey', events: [{ id: eventId(), type: 'email_open', ts: Date.now(), email: 'a@acme.io' }] }) });
    expect(other.status).toBe(400);
  });
});

describe('served files', () => {
  it('serves the snippet at /s.js and its alias, with the collect alias baked in', async () => {
    const res = await call('/s.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('javascript');
    expect(res.headers.get('cache-control')).toContain('max-age');
    // The tests run with COLLECT_ALIASES=/p/e: the served snippet names the alias only.
    expect(SNIPPET_JS).toContain('"/v1/collect"');
    expect(await res.text()).toBe(SNIPPET_JS.replaceAll('/v1/collect', '/p/e'));
    expect(await (await call('/js/app.js')).text()).toBe(SNIPPET_JS.replaceAll('/v1/collect', '/p/e'));
  });

  it('serves the dashboard under a strict content security policy', async () => {
    const res = await call('/dashboard');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('/dashboard/app.js');
    expect((await call('/dashboard/app.js')).status).toBe(200);
  });

  it('answers unknown routes with the JSON error shape', async () => {
    const res = await call('/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'no route for GET /nope' } });
  });
});

describe('/admin', () => {
  it('refuses a wrong token and invalid origins', async () => {
    const wrong = await call('/admin/sites/x', { method: 'PUT', headers: { authorization: 'Bearer nope' }, body: '{}' });
    expect(wrong.status).toBe(401);
    const bad = await call('/admin/sites/x', {
      method: 'PUT',
      headers: { authorization: 'Bearer test-admin-token' },
      body: JSON.stringify({ name: 'x', origins: ['https://a.example/path'] }),
    });
    expect(bad.status).toBe(400);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM sites WHERE id = 'x'").first('n')).toBe(0);
  });
});
