import { createExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import worker from '../../worker/index';
import { api, browserEvent, BROWSER_UA, call, collect, leadByEmail, newSite, ORIGIN, rowCounts } from './helpers';

describe('POST /v1/collect', () => {
  it('accepts a batch, stores each event once, and scores the lead it identifies', async () => {
    const site = await newSite();
    const batch = {
      site: site.siteKey,
      events: [
        browserEvent('v1', 'page_view', { url: `${ORIGIN}/pricing`, title: 'Pricing' }),
        browserEvent('v1', 'page_view', { url: `${ORIGIN}/references` }),
        browserEvent('v1', 'identify', { traits: { email: 'Ana@Acme.io', jobTitle: 'Marketing manager' } }),
      ],
    };
    const res = await collect(batch);
    expect(res.status).toBe(202);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const body = (await res.json()) as { accepted: string[]; duplicates: string[]; rejected: unknown[] };
    expect(body.accepted).toEqual(batch.events.map((e) => e.id));
    expect(body.duplicates).toEqual([]);
    expect(body.rejected).toEqual([]);

    const lead = await leadByEmail(site, 'ana@acme.io');
    expect(lead?.scores).toEqual({ fit: 25, activity: 35, engagement: 0 });
    expect(lead?.band).toBe('warm');
    expect(lead?.profile).toMatchObject({ email: 'ana@acme.io', emailDomain: 'acme.io', jobTitle: 'Marketing manager' });
    expect(await rowCounts(site.id)).toEqual({ events: 3, visitors: 1, leads: 1, transitions: 1 });
  });

  it('counts a batch sent twice once', async () => {
    const site = await newSite();
    const batch = {
      site: site.siteKey,
      events: [
        browserEvent('v2', 'identify', { traits: { email: 'bob@acme.io' } }),
        browserEvent('v2', 'page_view', { url: `${ORIGIN}/pricing` }),
      ],
    };
    expect((await collect(batch)).status).toBe(202);
    const before = await leadByEmail(site, 'bob@acme.io');
    const again = await collect(batch);
    expect(again.status).toBe(202);
    const body = (await again.json()) as { accepted: string[]; duplicates: string[] };
    expect(body.accepted).toEqual([]);
    expect(body.duplicates).toEqual(batch.events.map((e) => e.id));
    expect(await rowCounts(site.id)).toMatchObject({ events: 2, leads: 1 });
    expect((await leadByEmail(site, 'bob@acme.io'))?.scores).toEqual(before?.scores);
    // The same id twice inside one batch is also one event.
    const dup = browserEvent('v2', 'page_view');
    const inner = (await (await collect({ site: site.siteKey, events: [dup, dup] })).json()) as { accepted: string[]; duplicates: string[] };
    expect(inner).toMatchObject({ accepted: [dup.id], duplicates: [dup.id] });
  });

  it('accepts the valid events of a batch and says why each other one was rejected', async () => {
    const site = await newSite();
    const good = browserEvent('v3', 'page_view');
    const res = await collect({
      site: site.siteKey,
      events: [
        good,
        { ...browserEvent('v3', 'page_view'), id: 'bad-ts', ts: 'yesterday' },
        browserEvent('v3', 'email_open'),
        { id: 'x', type: 'page_view', ts: Date.now() },
        { id: 42, type: 'page_view', ts: Date.now(), visitor: 'v3' },
        'not an event',
      ],
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: string[]; rejected: { index: number; id?: string; code: string; issues?: { path: unknown[] }[] }[] };
    expect(body.accepted).toEqual([good.id]);
    // Each refusal names the event's id when it sent one as a string, so that a client can drop it.
    expect(body.rejected.map((r) => [r.index, r.id, r.code])).toEqual([
      [1, 'bad-ts', 'invalid_event'],
      [2, expect.stringMatching(/^ev-/), 'server_only_type'],
      [3, 'x', 'visitor_required'],
      [4, undefined, 'invalid_event'],
      [5, undefined, 'invalid_event'],
    ]);
    expect(body.rejected.slice(3).every((r) => !('id' in r))).toBe(true);
    expect(body.rejected[0]!.issues![0]!.path).toEqual(['ts']);
    expect(await rowCounts(site.id)).toMatchObject({ events: 1 });
  });

  describe('rejects a malformed request with a 4xx JSON error and writes nothing', () => {
    const cases: [string, (key: string) => Parameters<typeof collect>, number, string][] = [
      ['a body that is not JSON', () => ['{"site": "pk_', {}], 400, 'invalid_json'],
      ['an empty body', () => ['', {}], 400, 'empty_body'],
      ['events of the wrong type', (k) => [{ site: k, events: 'page_view' }], 400, 'invalid_request'],
      ['a site key of the wrong type', () => [{ site: 42, events: [browserEvent('v', 'page_view')] }], 400, 'invalid_request'],
      ['no event at all', (k) => [{ site: k, events: [] }], 400, 'invalid_request'],
      ['only invalid events', (k) => [{ site: k, events: [{ id: 1, type: 'page_view' }] }], 400, 'no_valid_event'],
      ['an unknown site key', () => [{ site: 'pk_unknownunknownunknown', events: [browserEvent('v', 'page_view')] }], 403, 'unknown_site_key'],
      ['a foreign origin', (k) => [{ site: k, events: [browserEvent('v', 'page_view')] }, { origin: 'https://evil.example' }], 403, 'origin_not_allowed'],
      ['no origin', (k) => [{ site: k, events: [browserEvent('v', 'page_view')] }, { origin: '' }], 403, 'origin_not_allowed'],
      ['an oversized batch (101 events)', (k) => [{ site: k, events: Array.from({ length: 101 }, () => browserEvent('v', 'page_view')) }], 400, 'invalid_request'],
      ['a body over 64 KB', (k) => [{ site: k, events: [browserEvent('v', 'page_view', { title: 'x'.repeat(70_000) })] }], 413, 'payload_too_large'],
      // Found by test/fuzz: stored as UTF-8, "\ud800" and "\udbff" both became U+FFFD, one visitor.
      ['a lone surrogate in a string', (k) => [JSON.stringify({ site: k, events: [browserEvent('v', 'page_view')] }).replace('"v"', '"v\\ud800"'), {}], 400, 'invalid_text'],
      ['a lone surrogate in a key', (k) => [JSON.stringify({ site: k, events: [browserEvent('v', 'page_view', { props: { p: 1 } })] }).replace('"p"', '"\\udfff"'), {}], 400, 'invalid_text'],
      ['a lone surrogate escaped in capitals', (k) => [JSON.stringify({ site: k, events: [browserEvent('v', 'page_view')] }).replace('"v"', '"v\\uDBFF"'), {}], 400, 'invalid_text'],
    ];
    it.each(cases)('%s', async (_, make, status, code) => {
      const site = await newSite();
      const res = await collect(...make(site.siteKey));
      expect(res.status).toBe(status);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      expect(body.error.message.length).toBeGreaterThan(5);
      expect(await rowCounts(site.id)).toEqual({ events: 0, visitors: 0, leads: 0, transitions: 0 });
    });
  });

  it('accepts a character escaped as a surrogate pair, and stores it whole', async () => {
    const site = await newSite();
    const event = browserEvent('v', 'page_view', { title: 'Pricing X' });
    const res = await collect(JSON.stringify({ site: site.siteKey, events: [event] }).replace('Pricing X', 'Pricing \\ud83d\\ude00'), {});
    expect(res.status).toBe(202);
    expect(await env.DB.prepare('SELECT title FROM events WHERE id = ?').bind(event.id).first('title')).toBe('Pricing \u{1F600}');
  });

  it("cuts a page's address, title and referrer that run long, rather than lose the event", async () => {
    const site = await newSite();
    const url = `${ORIGIN}/pricing?state=${'s'.repeat(3000)}`;
    // The title's 500th character is the first half of an emoji: cut before it, not through it.
    const title = `${'t'.repeat(499)}\u{1F600} and more`;
    const events = [
      browserEvent('lg', 'page_view', { url, title, referrer: `https://search.example/?q=${'r'.repeat(3000)}` }),
      browserEvent('lg', 'form_submit', { url, title, fields: { email: 'long@acme.io' }, contentType: 'demo_request' }),
    ];
    const res = await collect({ site: site.siteKey, events });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { accepted: string[] }).accepted).toEqual(events.map((e) => e.id));
    const stored = await env.DB.prepare('SELECT url, title, referrer FROM events WHERE id = ?').bind(events[0]!.id).first<Record<string, string>>();
    expect(stored!.url).toBe(url.slice(0, 2048));
    expect(stored!.title).toBe('t'.repeat(499));
    expect(stored!.referrer).toHaveLength(2048);
    // The pricing page and the demo request scored, the lead made from the form's e-mail.
    expect((await leadByEmail(site, 'long@acme.io'))?.breakdown.map((b) => b.ruleId)).toEqual(expect.arrayContaining(['pricing-page', 'demo-or-quote-request']));
  });

  it.each([
    ['recalled by the isolate', {}],
    ['read first', { INGEST_RECALL: 'off' }],
  ])("takes what a known lead's later form or identify says of them without the e-mail (%s)", async (_, vars) => {
    const site = await newSite();
    const send = async (events: unknown[]) => {
      const request = new Request('https://leadscore.test/v1/collect', {
        method: 'POST',
        headers: { origin: ORIGIN, 'user-agent': BROWSER_UA },
        body: JSON.stringify({ site: site.siteKey, events }),
      });
      expect((await worker.fetch(request, { ...env, ...vars }, createExecutionContext())).status).toBe(202);
    };
    await send([browserEvent('pp', 'form_submit', { fields: { email: 'pia@acme.io', first_name: 'Pia' } })]);
    expect((await leadByEmail(site, 'pia@acme.io'))!.scores.fit).toBe(0);
    // The second form asks for what the first did not; a bad e-mail in it changes no one's.
    await send([browserEvent('pp', 'form_submit', { fields: { job_title: 'Marketing director', company_size: '200', email: 'not an e-mail' } })]);
    await send([browserEvent('pp', 'identify', { traits: { industry: 'Software' } })]);
    const lead = (await leadByEmail(site, 'pia@acme.io'))!;
    expect(lead.profile).toEqual({
      email: 'pia@acme.io',
      emailDomain: 'acme.io',
      firstName: 'Pia',
      jobTitle: 'Marketing director',
      companySize: '200',
      industry: 'Software',
    });
    // Marketing 25, decision maker 15, 50 people or more 10, target industry 10.
    expect(lead.scores.fit).toBe(60);
    expect(await rowCounts(site.id)).toMatchObject({ leads: 1, visitors: 1, events: 3 });
  });

  it('names the path of each mistake', async () => {
    const site = await newSite();
    const res = await collect({ site: site.siteKey, events: [{ id: '', type: 'page view', ts: 1, visitor: 'v' }] });
    const body = (await res.json()) as { error: { issues: { path: unknown[] }[] } };
    expect(body.error.issues.map((i) => i.path)).toEqual([
      ['events', 0, 'id'],
      ['events', 0, 'type'],
      ['events', 0, 'ts'],
    ]);
  });

  it('answers the CORS preflight, the POST with its origin alone, and serves under its alias', async () => {
    const pre = await call('/v1/collect', {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');

    const site = await newSite();
    const res = await call('/p/e', {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'text/plain' },
      body: JSON.stringify({ site: site.siteKey, events: [browserEvent('v', 'page_view')] }),
    });
    expect(res.status).toBe(202);
    // The page reads the answer; what it may send is the preflight's to say, not every answer's.
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('vary')).toBe('Origin');
    for (const name of ['access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age']) {
      expect(pre.headers.get(name)).not.toBeNull();
      expect(res.headers.get(name)).toBeNull();
    }
  });

  // Found by test/fuzz: zod leaves `__proto__` out of a record without a word, so such props were
  // accepted and stored empty, while `constructor` was refused.
  it('refuses a `__proto__` key in props, traits and fields, as it refuses `constructor`', async () => {
    const site = await newSite();
    const good = browserEvent('v10', 'page_view');
    const bad = ['props', 'traits', 'fields'].map((at) => ({ ...browserEvent('v10', 'identify'), [at]: { email: 'ada@acme.io', x: 'y' } }));
    // JSON.stringify of an object literal drops `__proto__`: the key is written into the text.
    const body = JSON.stringify({ site: site.siteKey, events: [good, ...bad] }).replaceAll('"x":"y"', '"__proto__":"y"');
    const res = await collect(body);
    expect(res.status).toBe(202);
    const answer = (await res.json()) as { accepted: string[]; rejected: { index: number; issues: { path: unknown[] }[] }[] };
    expect(answer.accepted).toEqual([good.id]);
    expect(answer.rejected.map((r) => [r.index, r.issues[0]!.path])).toEqual([
      [1, ['props', '__proto__']],
      [2, ['traits', '__proto__']],
      [3, ['fields', '__proto__']],
    ]);
    expect(await rowCounts(site.id)).toMatchObject({ events: 1, leads: 0 });
  });

  it('does not store unknown keys', async () => {
    const site = await newSite();
    const e = { ...browserEvent('v9', 'page_view'), secret: 'do not keep', props: { plan: 'pro' } };
    await collect({ site: site.siteKey, events: [e] });
    const row = await env.DB.prepare('SELECT * FROM events WHERE site_id = ?').bind(site.id).first<Record<string, unknown>>();
    const shape = await env.DB.prepare('SELECT * FROM event_shapes WHERE id = ?').bind(row!.shape_id).first<Record<string, unknown>>();
    expect(JSON.stringify([row, shape])).not.toContain('do not keep');
    expect(JSON.parse(shape!.props as string)).toEqual({ plan: 'pro' });
  });
});

describe('robots', () => {
  it('counts the events of robots per day, apart, and never scores them', async () => {
    const site = await newSite();
    const events = [browserEvent('r1', 'identify', { traits: { email: 'crawler@acme.io' } }), browserEvent('r1', 'page_view', { url: `${ORIGIN}/pricing` })];
    const before = await rowCounts(site.id);
    for (const userAgent of ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'Mozilla/5.0 HeadlessChrome/142.0.0.0', '']) {
      const res = await collect({ site: site.siteKey, events }, { userAgent });
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ accepted: [], robot: { ignored: events.map((e) => e.id) } });
    }
    expect(await rowCounts(site.id)).toEqual(before);
    const stats = (await (await api(site, '/v1/bands/stats')).json()) as { robots: { requests: number; events: number }[] };
    expect(stats.robots).toEqual([expect.objectContaining({ requests: 3, events: 6 })]);
    // The same events from a browser are scored, as new: robots' ids were never stored.
    const res = await collect({ site: site.siteKey, events }, { userAgent: BROWSER_UA });
    expect(((await res.json()) as { accepted: string[] }).accepted).toHaveLength(2);
  });
});
