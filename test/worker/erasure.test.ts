import { env } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import { describe, expect, inject, it } from 'vitest';
import { database } from '../../worker/db/client';
import { meteredD1, type D1Meter } from '../../worker/db/metering';
import { siteBySiteKey } from '../../worker/db/sites';
import { ingest } from '../../worker/ingest/ingest';
import { leads } from '../../worker/db/schema';
import { runBatch, type Statement } from '../../worker/db/statements';
import { erasureWrites, eraseLead } from '../../worker/leads/erase';
import { exportLead } from '../../worker/leads/export';
import { salesWrites } from '../../worker/leads/sales';
import { isWriteConflict } from '../../worker/leads/write';
import { LeadExport } from '../../worker/openapi/responses';
import { dispatchWebhooks } from '../../worker/webhooks/dispatch';
import { recordAttempts } from '../../worker/webhooks/send';
import { api, browserEvent, busyD1, collect, newSite, ORIGIN, proxiedD1, type TestSite } from './helpers';

type Json = Record<string, any>;

const identify = (visitor: string, email: string, traits: Record<string, unknown> = {}) =>
  browserEvent(visitor, 'identify', { traits: { email, ...traits } });
const page = (visitor: string, path: string, extra: Record<string, unknown> = {}) =>
  browserEvent(visitor, 'page_view', { url: `${ORIGIN}${path}`, ...extra });

const receiver = inject('receiverUrl');
let paths = 0;
/** A receiver of its own on the test's webhook server; `failFirst` requests answer 503. */
async function newReceiver(failFirst = 0) {
  const path = `/erasure/${Date.now().toString(36)}-${++paths}`;
  await fetch(`${receiver}/_plan${path}`, { method: 'POST', body: JSON.stringify({ failFirst }) });
  return {
    url: `${receiver}${path}`,
    log: async () => (await (await fetch(`${receiver}/_log${path}`)).json()) as { id: string; answered: number; body: { data: { lead: { id: string } | null } } }[],
  };
}

async function subscribe(site: TestSite, url: string) {
  const res = await api(site, '/v1/webhooks', {
    method: 'POST',
    body: JSON.stringify({ url, types: ['lead.band_changed', 'lead.stage_changed', 'lead.excluded', 'lead.included', 'branch.triggered'] }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { webhook: { id: string } }).webhook;
}

const rows = async <T = Json>(query: string, ...binds: unknown[]) => (await env.DB.prepare(query).bind(...binds).all<T>()).results;
const one = async (query: string, ...binds: unknown[]) => (await env.DB.prepare(query).bind(...binds).first<{ n: number }>())!.n;

/** The id of the site's shape of an event of this type and rule URL, made if missing. */
async function shapeId(siteId: string, type: string, url: string | null) {
  await env.DB.prepare(`INSERT INTO event_shapes (site_id, key, type, url) VALUES (?1, json_array(?2, ?3, NULL, NULL), ?2, ?3) ON CONFLICT DO NOTHING`)
    .bind(siteId, type, url)
    .run();
  return one(`SELECT id AS n FROM event_shapes WHERE site_id = ? AND key = json_array(?, ?, NULL, NULL)`, siteId, type, url);
}

/** Waits until the dispatches requests start on their own (`waitUntil`) are over. */
async function settle() {
  let quiet = 0;
  while (quiet < 3) {
    await new Promise((ok) => setTimeout(ok, 100));
    const leased = await one('SELECT count(*) AS n FROM deliveries WHERE lease_until > ?', Date.now());
    quiet = leased === 0 ? quiet + 1 : 0;
  }
}

/** Every row anywhere that belongs to the lead or to the visitors it had. */
async function heldAbout(siteId: string, leadId: string, visitorIds: string[], deliveryIds: string[], searchRowid: number) {
  const vis = JSON.stringify(visitorIds);
  const dels = JSON.stringify(deliveryIds);
  return {
    leads: await one('SELECT count(*) AS n FROM leads WHERE id = ?', leadId),
    visitors: await one(`SELECT count(*) AS n FROM visitors WHERE site_id = ? AND (lead_id = ? OR id IN (SELECT value FROM json_each(?)))`, siteId, leadId, vis),
    events: await one(`SELECT count(*) AS n FROM events WHERE site_id = ? AND (lead_id = ? OR visitor_id IN (SELECT value FROM json_each(?)))`, siteId, leadId, vis),
    transitions: await one('SELECT count(*) AS n FROM transitions WHERE lead_id = ?', leadId),
    feedback: await one('SELECT count(*) AS n FROM feedback WHERE lead_id = ?', leadId),
    deliveries: await one(`SELECT count(*) AS n FROM deliveries WHERE lead_id = ? OR id IN (SELECT value FROM json_each(?))`, leadId, dels),
    deliveryAttempts: await one(`SELECT count(*) AS n FROM delivery_attempts WHERE delivery_id IN (SELECT value FROM json_each(?))`, dels),
    search: await one('SELECT count(*) AS n FROM lead_search WHERE rowid = ?', searchRowid),
    searchContent: await one('SELECT count(*) AS n FROM lead_search_content WHERE id = ?', searchRowid),
  };
}

/** Everything stored for a lead that erasing another must not touch. */
async function snapshotOf(siteId: string, leadId: string) {
  return {
    lead: await rows('SELECT * FROM leads WHERE id = ?', leadId),
    visitors: await rows('SELECT * FROM visitors WHERE site_id = ? AND lead_id = ? ORDER BY id', siteId, leadId),
    events: await rows('SELECT * FROM events WHERE lead_id = ? ORDER BY id', leadId),
    transitions: await rows('SELECT * FROM transitions WHERE lead_id = ? ORDER BY seq', leadId),
    deliveries: await rows('SELECT id, status, payload FROM deliveries WHERE lead_id = ? ORDER BY seq', leadId),
  };
}

/**
 * The band counters a site's writes keep (zero ones left out), and the same counted from the leads.
 * The score histogram beside them is recounted when read (see `segments/histogram`): no write keeps it.
 */
async function counters(siteId: string) {
  const kept = await rows<{ key: string; count: number }>(
    `SELECT j.key AS key, j.value AS count FROM segment_histograms AS h, json_each(h.counts, '$.band') AS j WHERE h.site_id = ? AND j.value <> 0 ORDER BY 1`,
    siteId,
  );
  const counted = await rows<{ key: string; count: number }>(`SELECT coalesce(band, '') AS key, count(*) AS count FROM leads WHERE site_id = ? GROUP BY 1 ORDER BY 1`, siteId);
  return { kept, counted };
}

async function exported(site: TestSite, id: string) {
  const res = await api(site, `/v1/leads/${id}/export`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('content-disposition')).toBe(`attachment; filename="lead-${id}.json"`);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const body = (await res.json()) as Json;
  // The documented schema describes the whole document, field for field.
  expect(LeadExport.parse(body)).toEqual(body);
  return body;
}

/** The test's D1, running `before` ahead of each batch: where an erasure is made to race a writer. */
function beforeEachBatch(before: () => Promise<void>): D1Database {
  return proxiedD1({
    batch: async <T>(statements: D1PreparedStatement[]) => {
      await before();
      return env.DB.batch<T>(statements);
    },
  });
}

describe('erasing a lead and exporting what is held about it', () => {
  it('exports everything held about a lead, then erases all of it and nothing else', async () => {
    const site = await newSite();
    const ok = await newReceiver();
    const failing = await newReceiver(1000);
    const okHook = await subscribe(site, ok.url);
    const failingHook = await subscribe(site, failing.url);

    // Ana browses anonymously, then identifies; a second browser of hers identifies later.
    await collect({
      site: site.siteKey,
      events: [
        page('ana-1', '/pricing', { title: 'Pricing', referrer: 'https://search.example/?q=lead+scoring', props: { plan: 'pro' } }),
        page('ana-1', '/references', { title: 'Customers' }),
      ],
    });
    await collect({ site: site.siteKey, events: [identify('ana-1', 'ana@acme.io', { jobTitle: 'Marketing', firstName: 'Ana', company: 'Acme' })] });
    await collect({ site: site.siteKey, events: [identify('ana-2', 'ana@acme.io'), page('ana-2', '/pricing'), page('ana-2', '/pricing')] });
    // Bob on the same site, and an anonymous browser who never says who they are.
    await collect({ site: site.siteKey, events: [identify('bob-1', 'bob@acme.io', { jobTitle: 'Marketing Director' }), page('bob-1', '/pricing')] });
    await collect({ site: site.siteKey, events: [page('anon-1', '/blog')] });
    await settle();

    const [ana] = await rows<{ id: string; rowid: number }>(`SELECT id, rowid FROM leads WHERE site_id = ? AND email = 'ana@acme.io'`, site.id);
    const [bob] = await rows<{ id: string }>(`SELECT id FROM leads WHERE site_id = ? AND email = 'bob@acme.io'`, site.id);
    const patched = await api(site, `/v1/leads/${ana!.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ stage: 'sql', feedback: { fit: 'good', note: 'Ana asked for a call' } }),
    });
    expect(patched.status).toBe(200);
    // An event of her second browser stored without a lead, as those a browser sends before it
    // identifies are (ana-1's first two are): hers too, by its visitor.
    await env.DB.prepare(
      `INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, url, received_at) VALUES (?, 'ev-anon-race', 'ana-2', NULL, ?, ?, ?, ?)`,
    )
      .bind(site.id, await shapeId(site.id, 'page_view', '/pricing'), Date.now(), `${ORIGIN}/pricing`, Date.now())
      .run();
    // Fans the stage change out and sends what is due: to `ok` delivered, to `failing` pending.
    await dispatchWebhooks(env.DB, { deadline: Date.now() + 10_000 });

    const anaDeliveries = await rows<{ id: string; webhook_id: string; status: string; attempts: number }>(
      'SELECT id, webhook_id, status, attempts FROM deliveries WHERE lead_id = ?',
      ana!.id,
    );
    expect(anaDeliveries.filter((d) => d.webhook_id === okHook.id).map((d) => d.status)).toContain('delivered');
    expect(anaDeliveries.filter((d) => d.webhook_id === failingHook.id).every((d) => d.status === 'pending')).toBe(true);
    expect(anaDeliveries.some((d) => d.webhook_id === failingHook.id && d.attempts > 0)).toBe(true);
    const anaDeliveryIds = anaDeliveries.map((d) => d.id);
    const visitorIds = ['ana-1', 'ana-2'];

    // Her first browser comes back. A lead's visitor's page view writes no row of the visitor (its
    // lead's history paces it), yet the export says when that browser was last seen.
    const back = Date.now() + 60_000;
    await collect({ site: site.siteKey, events: [page('ana-1', '/blog', { ts: back })] });
    expect(await one(`SELECT last_seen AS n FROM visitors WHERE site_id = ? AND id = 'ana-1'`, site.id)).toBeLessThan(back);

    // The export holds all of it.
    const doc = await exported(site, ana!.id);
    expect(doc.lead).toMatchObject({ id: ana!.id, email: 'ana@acme.io', stage: 'sql', profile: { firstName: 'Ana', company: 'Acme', jobTitle: 'Marketing' } });
    expect(doc.visitors.map((v: Json) => v.id).sort()).toEqual(visitorIds);
    const lastSeen = async (visitor: string) =>
      one(`SELECT max(ts) AS n FROM events WHERE site_id = ? AND visitor_id = ? AND lead_id IS NOT NULL`, site.id, visitor);
    expect(Object.fromEntries(doc.visitors.map((v: Json) => [v.id, v.lastSeen]))).toEqual({ 'ana-1': back, 'ana-2': await lastSeen('ana-2') });
    const storedEventIds = (await rows<{ id: string }>(`SELECT id FROM events WHERE lead_id = ? OR (site_id = ? AND visitor_id IN ('ana-1', 'ana-2'))`, ana!.id, site.id)).map((e) => e.id);
    expect(doc.events.map((e: Json) => e.id).sort()).toEqual(storedEventIds.sort());
    expect(doc.eventCount).toBe(storedEventIds.length);
    expect(doc.events.find((e: Json) => e.id === 'ev-anon-race')).toMatchObject({ visitor: 'ana-2', leadId: ana!.id });
    expect(doc.events.every((e: Json) => e.leadId === ana!.id)).toBe(true);
    expect(doc.events.find((e: Json) => e.title === 'Pricing')).toMatchObject({
      url: `${ORIGIN}/pricing`,
      referrer: 'https://search.example/?q=lead+scoring',
      props: { plan: 'pro' },
      visitor: 'ana-1',
      leadId: ana!.id,
    });
    const storedTransitions = await rows<{ type: string }>('SELECT type FROM transitions WHERE lead_id = ? ORDER BY seq', ana!.id);
    expect(doc.transitions.map((t: Json) => t.type)).toEqual(storedTransitions.map((t) => t.type));
    expect(doc.transitions.map((t: Json) => t.type)).toContain('lead.stage_changed');
    expect(doc.feedback).toEqual([{ fit: 'good', outcome: null, note: 'Ana asked for a call', at: expect.any(Number), by: expect.any(String) }]);
    expect(doc.deliveries.map((d: Json) => d.id).sort()).toEqual([...anaDeliveryIds].sort());
    expect(new Set(doc.deliveries.map((d: Json) => d.status))).toEqual(new Set(['delivered', 'pending']));
    expect(doc.deliveries.every((d: Json) => d.payload.data.lead.email === 'ana@acme.io')).toBe(true);
    expect(doc.deliveries.some((d: Json) => d.log.length > 0)).toBe(true);

    const before = await heldAbout(site.id, ana!.id, visitorIds, anaDeliveryIds, ana!.rowid);
    for (const [table, n] of Object.entries(before)) expect(n, table).toBeGreaterThan(0);
    const bobBefore = await snapshotOf(site.id, bob!.id);
    const anonBefore = await rows(`SELECT * FROM events WHERE site_id = ? AND visitor_id = 'anon-1'`, site.id);
    const failingSeen = (await failing.log()).filter((r) => r.body.data.lead?.id === ana!.id).length;
    const bandDailyBefore = await rows('SELECT * FROM band_daily WHERE site_id = ? ORDER BY day, band', site.id);

    // Shapes only her events have (the references page, pricing with her `plan` property) name her
    // as much as the events do; the pricing page Bob saw too is the site's, and stays.
    const herShapes = `SELECT shape_id FROM events WHERE lead_id = ?1 OR (site_id = ?2 AND visitor_id IN ('ana-1', 'ana-2'))`;
    const onlyHers = await rows<{ id: number; url: string; props: string | null }>(
      `SELECT id, url, props FROM event_shapes WHERE id IN (${herShapes}) AND id NOT IN (SELECT shape_id FROM events WHERE lead_id IS NOT ?1 AND visitor_id NOT IN ('ana-1', 'ana-2'))`,
      ana!.id,
      site.id,
    );
    expect(onlyHers.map((s) => [s.url, s.props]).sort()).toEqual([['/pricing', '{"plan":"pro"}'], ['/references', null]]);
    const shared = await rows<{ id: number }>(`SELECT id FROM event_shapes WHERE id IN (${herShapes}) AND id NOT IN (${onlyHers.map((s) => s.id).join(',')})`, ana!.id, site.id);
    expect(shared.length).toBeGreaterThan(0);
    const shapesBefore = await one('SELECT count(*) AS n FROM event_shapes WHERE site_id = ?', site.id);

    const erased = await api(site, `/v1/leads/${ana!.id}`, { method: 'DELETE' });
    expect(erased.status).toBe(204);
    expect(await one(`SELECT count(*) AS n FROM event_shapes WHERE id IN (${onlyHers.map((s) => s.id).join(',')})`)).toBe(0);
    expect(await one(`SELECT count(*) AS n FROM event_shapes WHERE id IN (${shared.map((s) => s.id).join(',')})`)).toBe(shared.length);
    expect(await one('SELECT count(*) AS n FROM event_shapes WHERE site_id = ?', site.id)).toBe(shapesBefore - onlyHers.length);
    // Every event left still has its shape.
    expect(await one('SELECT count(*) AS n FROM events AS e LEFT JOIN event_shapes AS s ON s.id = e.shape_id WHERE e.site_id = ? AND s.id IS NULL', site.id)).toBe(0);

    expect(await heldAbout(site.id, ana!.id, visitorIds, anaDeliveryIds, ana!.rowid)).toEqual(
      Object.fromEntries(Object.keys(before).map((k) => [k, 0])),
    );
    // Nothing else moved: Bob, the anonymous browser, the daily counts.
    expect(await snapshotOf(site.id, bob!.id)).toEqual(bobBefore);
    expect(await rows(`SELECT * FROM events WHERE site_id = ? AND visitor_id = 'anon-1'`, site.id)).toEqual(anonBefore);
    expect(await rows('SELECT * FROM band_daily WHERE site_id = ? ORDER BY day, band', site.id)).toEqual(bandDailyBefore);
    // The counters say what a count of the leads says.
    const { kept, counted } = await counters(site.id);
    expect(kept).toEqual(counted);
    // Search no longer finds her, through the trigram index or the short-term path.
    for (const q of ['ana@acme', 'Ana', 'an']) {
      const { leads: found } = (await (await api(site, `/v1/leads?q=${encodeURIComponent(q)}`)).json()) as { leads: { id: string }[] };
      expect(found.map((l) => l.id), q).not.toContain(ana!.id);
    }
    expect(await one(`SELECT count(*) AS n FROM lead_search WHERE body LIKE '%ana@acme.io%'`)).toBe(0);
    // And its trigrams left the index itself, not only marked deleted: the index deletes securely.
    expect(await one(`SELECT v AS n FROM lead_search_config WHERE k = 'secure-delete'`)).toBe(1);
    // The changes feed skips her changes from now on.
    const feed = (await (await api(site, '/v1/changes?limit=1000')).json()) as { items: { lead: { id: string } | null }[] };
    expect(feed.items.length).toBeGreaterThan(0);
    expect(feed.items.filter((i) => i.lead?.id === ana!.id || i.lead === null)).toEqual([]);

    // The dispatcher, two days on (every retry due), never sends her pending delivery; Bob's still goes.
    const failingBob = (await failing.log()).filter((r) => r.body.data.lead?.id === bob!.id).length;
    await dispatchWebhooks(env.DB, { now: Date.now() + 2 * 86_400_000, deadline: Date.now() + 10_000 });
    expect((await failing.log()).filter((r) => r.body.data.lead?.id === ana!.id)).toHaveLength(failingSeen);
    expect((await failing.log()).filter((r) => r.body.data.lead?.id === bob!.id).length).toBeGreaterThan(failingBob);
    expect(await one('SELECT count(*) AS n FROM deliveries WHERE lead_id = ?', ana!.id)).toBe(0);

    // Gone: 404 everywhere, and erasing again is a 404 too.
    for (const [path, method] of [
      [`/v1/leads/${ana!.id}`, 'GET'],
      [`/v1/leads/${ana!.id}/export`, 'GET'],
      [`/v1/leads/${ana!.id}`, 'DELETE'],
    ] as const) {
      const res = await api(site, path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('lead_not_found');
    }

    // Her browser comes back: it is a stranger, and saying who she is makes a new lead from nothing.
    await collect({ site: site.siteKey, events: [page('ana-1', '/pricing'), identify('ana-1', 'ana@acme.io')] });
    const [again] = await rows<{ id: string; event_count: number }>(`SELECT id, event_count FROM leads WHERE site_id = ? AND email = 'ana@acme.io'`, site.id);
    expect(again!.id).not.toBe(ana!.id);
    expect(again!.event_count).toBe(2);
    await settle();
    const after = await counters(site.id);
    expect(after.kept).toEqual(after.counted);
  });

  it("answers 404 to another site's key, and leaves that lead alone", async () => {
    const a = await newSite();
    const b = await newSite();
    await collect({ site: a.siteKey, events: [identify('gil-1', 'gil@acme.io'), page('gil-1', '/pricing')] });
    const [gil] = await rows<{ id: string }>(`SELECT id FROM leads WHERE site_id = ?`, a.id);
    const before = await snapshotOf(a.id, gil!.id);
    for (const [path, method] of [
      [`/v1/leads/${gil!.id}`, 'DELETE'],
      [`/v1/leads/${gil!.id}/export`, 'GET'],
      ['/v1/leads/ld_nobody', 'DELETE'],
      ['/v1/leads/ld_nobody/export', 'GET'],
    ] as const) {
      expect((await api(b, path, { method })).status, `${method} ${path}`).toBe(404);
    }
    expect(await snapshotOf(a.id, gil!.id)).toEqual(before);
    expect((await api(a, `/v1/leads/${gil!.id}/export`)).status).toBe(200);
  });

  it('is guarded: a write computed before the erasure fails after it, and a stale erasure is redone', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [identify('cy-1', 'cy@acme.io', { jobTitle: 'Marketing' })] });
    const db = database(env.DB);
    const [read] = await db.select().from(leads).where(eq(leads.siteId, site.id));
    const batch = (items: Statement[]) => runBatch(env.DB, items);

    // An erasure computed from an older read (the lead changed since) fails whole, deleting nothing.
    await collect({ site: site.siteKey, events: [page('cy-1', '/pricing')] });
    const stale = await batch(erasureWrites(db, read!)).catch((err: unknown) => err);
    expect(isWriteConflict(stale)).toBe(true);
    expect(await one('SELECT count(*) AS n FROM leads WHERE id = ?', read!.id)).toBe(1);
    expect(await one('SELECT count(*) AS n FROM events WHERE lead_id = ?', read!.id)).toBe(2);
    // The route reads again and erases.
    expect(await eraseLead(db, site.id, read!.id)).toBe(true);
    expect(await one('SELECT count(*) AS n FROM events WHERE lead_id = ?', read!.id)).toBe(0);

    // A sales change computed before the erasure fails after it: no transition, feedback or count
    // left pointing at a lead that is gone.
    const countersBefore = await rows('SELECT counts FROM segment_histograms WHERE site_id = ?', site.id);
    const late = await batch(salesWrites(db, read!, { stage: 'sql', feedback: { note: 'late' } }, 'key', Date.now()).statements).catch((err: unknown) => err);
    expect(isWriteConflict(late)).toBe(true);
    expect(await one('SELECT count(*) AS n FROM transitions WHERE lead_id = ?', read!.id)).toBe(0);
    expect(await one('SELECT count(*) AS n FROM feedback WHERE lead_id = ?', read!.id)).toBe(0);
    expect(await rows('SELECT counts FROM segment_histograms WHERE site_id = ?', site.id)).toEqual(countersBefore);
    const { kept, counted } = await counters(site.id);
    expect(kept).toEqual(counted);
  });

  it('gives up with a 503 after 5 attempts on a lead that every other request changes, erasing nothing', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [identify('bz-1', 'bz@acme.io', { jobTitle: 'Marketing' })] });
    const [lead] = await database(env.DB).select().from(leads).where(eq(leads.siteId, site.id));
    // Another writer moves the lead before each batch: every erasure finds its rev changed.
    const busy = busyD1('UPDATE leads SET rev = rev + 1 WHERE id = ?', lead!.id);
    const refused = await eraseLead(database(busy.d1), site.id, lead!.id).catch((err: unknown) => err);
    expect(refused).toMatchObject({ status: 503, code: 'write_conflict' });
    expect(busy.conflicts()).toBe(5);
    expect(await one('SELECT count(*) AS n FROM leads WHERE id = ?', lead!.id)).toBe(1);
    expect(await one('SELECT count(*) AS n FROM events WHERE lead_id = ?', lead!.id)).toBe(1);
  });

  it('stores an event whose shape an erasure deleted between its read and its write, with the shape made again', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [identify('gu-1', 'gus@acme.io'), page('gu-1', '/only-gus')] });
    const [gus] = await rows<{ id: string }>(`SELECT id FROM leads WHERE site_id = ?`, site.id);
    const context = (await siteBySiteKey(database(env.DB), site.siteKey))!;
    // Another browser opens the same page: its read finds Gus's shape, then Gus is erased (his shape
    // with him, as nobody else had it) before its write.
    let batches = 0;
    const racing = beforeEachBatch(async () => {
      if (++batches === 2) expect(await eraseLead(database(env.DB), site.id, gus!.id)).toBe(true);
    });
    const visit = page('ot-1', '/only-gus');
    // Read first (nothing recalled nor guessed), so that the erasure falls between read and write.
    expect(await ingest(racing, context, [visit as never], Date.now(), { recall: false })).toMatchObject({ accepted: [visit.id] });
    expect(batches).toBeGreaterThan(2);
    const [stored] = await rows<{ url: string; shape_url: string }>(
      'SELECT e.url, s.url AS shape_url FROM events AS e JOIN event_shapes AS s ON s.id = e.shape_id WHERE e.site_id = ? AND e.id = ?',
      site.id,
      visit.id,
    );
    expect(stored).toEqual({ url: `${ORIGIN}/only-gus`, shape_url: '/only-gus' });
  });

  it('never delivers a change whose lead was erased while the dispatcher was fanning it out or sending it', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [identify('di-1', 'di@acme.io', { jobTitle: 'Marketing' })] });
    await collect({ site: site.siteKey, events: [identify('ed-1', 'ed@acme.io', { jobTitle: 'Marketing' })] });
    await settle();
    const r = await newReceiver();
    const hook = await subscribe(site, r.url);
    const [di] = await rows<{ id: string }>(`SELECT id FROM leads WHERE site_id = ? AND email = 'di@acme.io'`, site.id);
    const [ed] = await rows<{ id: string }>(`SELECT id FROM leads WHERE site_id = ? AND email = 'ed@acme.io'`, site.id);
    // PATCH starts no dispatch: the change waits in the outbox.
    expect((await api(site, `/v1/leads/${di!.id}`, { method: 'PATCH', body: JSON.stringify({ stage: 'sql' }) })).status).toBe(200);
    const [change] = await rows<{ seq: number }>('SELECT seq FROM transitions WHERE lead_id = ? AND type = ?', di!.id, 'lead.stage_changed');

    // The fan-out reads the change (its first batch), then the lead is erased before it writes.
    let batches = 0;
    const racing = beforeEachBatch(async () => {
      if (++batches === 2) expect(await eraseLead(database(env.DB), site.id, di!.id)).toBe(true);
    });
    await dispatchWebhooks(racing, { deadline: Date.now() + 10_000 });
    expect(batches).toBeGreaterThanOrEqual(2);
    // It had read the change (its cursor moved past it), and made no delivery of it.
    expect(await one('SELECT cursor AS n FROM webhooks WHERE id = ?', hook.id)).toBeGreaterThanOrEqual(change!.seq);
    expect(await one('SELECT count(*) AS n FROM deliveries WHERE lead_id = ? OR transition_seq = ?', di!.id, change!.seq)).toBe(0);
    expect((await r.log()).filter((x) => JSON.stringify(x.body).includes('di@acme.io'))).toEqual([]);

    // A delivery erased while its request is on the wire: the request cannot be called back, but its
    // attempt has no log left to join, and the others' attempts are recorded all the same.
    expect((await api(site, `/v1/leads/${ed!.id}`, { method: 'PATCH', body: JSON.stringify({ stage: 'sql' }) })).status).toBe(200);
    const now = Date.now();
    await dispatchWebhooks(env.DB, { deadline: now + 10_000 });
    const edDeliveries = await rows<{ id: string }>('SELECT id FROM deliveries WHERE lead_id = ? ORDER BY seq', ed!.id);
    expect(edDeliveries.length).toBeGreaterThan(0);
    const other = { deliveryId: edDeliveries[0]!.id, webhookId: hook.id, status: 204, error: null, durationMs: 3 };
    const erasedMeanwhile = { deliveryId: 'msg_erased_meanwhile', webhookId: hook.id, status: 204, error: null, durationMs: 3 };
    const attemptsBefore = await one('SELECT count(*) AS n FROM delivery_attempts WHERE delivery_id = ?', other.deliveryId);
    await recordAttempts(database(env.DB), now, [erasedMeanwhile, other]);
    expect(await one('SELECT count(*) AS n FROM delivery_attempts WHERE delivery_id = ?', other.deliveryId)).toBe(attemptsBefore + 1);
    expect(await one(`SELECT count(*) AS n FROM delivery_attempts WHERE delivery_id = 'msg_erased_meanwhile'`)).toBe(0);
  });

  it("leaves the site's newest change blank when it was the erased lead's: a poller standing on it gets the next change, and never sees the blank", async () => {
    const site = await newSite();
    const poll = async (after?: string) =>
      (await (await api(site, `/v1/changes${after ? `?after=${after}` : ''}`)).json()) as { items: { id: string; lead: { id: string } | null }[]; nextCursor: string };
    await collect({ site: site.siteKey, events: [identify('nw-1', 'kept@acme.io', { jobTitle: 'Marketing' })] });
    await collect({ site: site.siteKey, events: [identify('nw-2', 'newest@acme.io', { jobTitle: 'Marketing' })] });
    const [kept] = await rows<{ id: string }>(`SELECT id FROM leads WHERE site_id = ? AND email = 'kept@acme.io'`, site.id);
    const [newest] = await rows<{ id: string }>(`SELECT id FROM leads WHERE site_id = ? AND email = 'newest@acme.io'`, site.id);
    // A poller that has read everything: its cursor stands on the erased lead's change, the site's newest.
    const read = await poll();
    expect(read.items.at(-1)!.lead!.id).toBe(newest!.id);
    const top = await one('SELECT max(seq) AS n FROM transitions WHERE site_id = ?', site.id);

    expect(await eraseLead(database(env.DB), site.id, newest!.id)).toBe(true);
    // Nothing of the lead is left in its place: no lead, no values, no index entry but the blanks'.
    expect(await rows('SELECT seq, lead_id, type, from_value, to_value, reason, branch FROM transitions WHERE site_id = ? AND seq >= ?', site.id, top)).toEqual([
      { seq: top, lead_id: '', type: 'erased', from_value: null, to_value: null, reason: null, branch: null },
    ]);
    expect(await one('SELECT count(*) AS n FROM transitions WHERE lead_id = ?', newest!.id)).toBe(0);
    // A new change is numbered after the blank, so the poller gets it; the blank is never an item.
    await collect({ site: site.siteKey, events: [identify('nw-3', 'next@acme.io', { jobTitle: 'Marketing' })] });
    const next = await poll(read.nextCursor);
    expect(next.items.map((i) => i.lead!.id)).toEqual([(await rows<{ id: string }>(`SELECT id FROM leads WHERE email = 'next@acme.io'`))[0]!.id]);
    expect((await poll()).items.map((i) => i.lead!.id)).toEqual([kept!.id, next.items[0]!.lead!.id]);

    // The next erasure of the newest change's lead blanks that one, and the earlier blank goes.
    const [third] = await rows<{ id: string }>(`SELECT id FROM leads WHERE site_id = ? AND email = 'next@acme.io'`, site.id);
    expect(await eraseLead(database(env.DB), site.id, third!.id)).toBe(true);
    expect(await rows(`SELECT seq FROM transitions WHERE site_id = ? AND type = 'erased'`, site.id)).toEqual([{ seq: top + 1 }]);
    // A lead whose changes are not the newest leaves no blank.
    expect(await eraseLead(database(env.DB), site.id, kept!.id)).toBe(true);
    expect(await rows('SELECT seq, type FROM transitions WHERE site_id = ?', site.id)).toEqual([{ seq: top + 1, type: 'erased' }]);
  });

  it('streams an export of many events page by page, whole and in order, and refuses one too large', async () => {
    const site = await newSite();
    const base = Date.now();
    const events = [identify('fa-1', 'fay@acme.io'), ...Array.from({ length: 40 }, (_, i) => page('fa-1', `/docs/${i}`, { ts: base - (40 - i) * 1000 }))];
    // Two events of the same millisecond, 4th and 5th in time: the first page (4 events) ends between
    // them. Pages go by (time, id), so neither is lost nor repeated at the edge.
    events.push(page('fa-1', '/same-ms-a', { ts: base - 37_500 }), page('fa-1', '/same-ms-b', { ts: base - 37_500 }));
    await collect({ site: site.siteKey, events: events.slice(0, 1) });
    await collect({ site: site.siteKey, events: events.slice(1) });
    // A second browser of Fay's, and anonymous events of both that were never attributed. They page
    // by (visitor, time, id): the first page of them ends inside a millisecond of fa-1's (ts 3), and
    // the next one moves on to fa-2, whose earliest event (ts 0) is earlier than that.
    await collect({ site: site.siteKey, events: [identify('fa-2', 'fay@acme.io')] });
    await env.DB.prepare(
      `INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, received_at) VALUES
         (?1, 'anon-a', 'fa-1', NULL, ?2, 1, 1), (?1, 'anon-b', 'fa-1', NULL, ?2, 2, 2), (?1, 'anon-e', 'fa-1', NULL, ?2, 3, 3),
         (?1, 'anon-c', 'fa-1', NULL, ?2, 3, 3), (?1, 'anon-d', 'fa-1', NULL, ?2, 3, 3), (?1, 'anon-g', 'fa-2', NULL, ?2, 5, 5),
         (?1, 'anon-f', 'fa-2', NULL, ?2, 0, 0)`,
    )
      .bind(site.id, await shapeId(site.id, 'page_view', null))
      .run();
    const [fay] = await rows<{ id: string }>(`SELECT id FROM leads WHERE site_id = ?`, site.id);
    const db = database(env.DB);
    const expected = [
      ...(await rows<{ id: string }>('SELECT id FROM events WHERE lead_id = ? ORDER BY ts, id', fay!.id)).map((e) => e.id),
      ...['anon-a', 'anon-b', 'anon-c', 'anon-d', 'anon-e', 'anon-f', 'anon-g'],
    ];
    expect(expected.length).toBe(51);
    expect(expected.slice(3, 5).sort()).toEqual(events.slice(-2).map((e) => e.id).sort());

    // Pages of 4 events at first, then of ceil(51 / 5) = 11: several reads after the first batch,
    // no more than the budget of 5 (D1's round trips counted as the metered worker counts them).
    const meter: D1Meter = { roundTrips: [] };
    const small = await exportLead(database(meteredD1(env.DB, meter)), site.id, fay!.id, Date.now(), { firstPage: 4, maxReads: 5, maxEvents: 100 });
    const doc = JSON.parse(await new Response(small!.body).text()) as Json;
    expect(meter.roundTrips.length).toBeGreaterThan(2);
    expect(meter.roundTrips.length - 1).toBeLessThanOrEqual(5);
    expect(LeadExport.parse(doc)).toEqual(doc);
    expect(doc.eventCount).toBe(51);
    expect(doc.events.map((e: Json) => e.id)).toEqual(expected);
    // The whole export in one page says the same.
    const whole = await exportLead(db, site.id, fay!.id, doc.exportedAt);
    expect(JSON.parse(await new Response(whole!.body).text())).toEqual(doc);

    // At the limit it is exported; one event past it, refused.
    const atLimit = await exportLead(db, site.id, fay!.id, doc.exportedAt, { firstPage: 4, maxReads: 5, maxEvents: 51 });
    expect(JSON.parse(await new Response(atLimit!.body).text())).toEqual(doc);
    await expect(exportLead(db, site.id, fay!.id, Date.now(), { firstPage: 4, maxReads: 5, maxEvents: 50 })).rejects.toMatchObject({
      status: 413,
      code: 'export_too_large',
    });
  });
});
