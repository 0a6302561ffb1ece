import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { database } from '../../worker/db/client';
import { meteredD1, type D1Meter } from '../../worker/db/metering';
import { models } from '../../worker/db/schema';
import worker from '../../worker/index';
import { parseHistory } from '../../worker/db/lead-history';
import { readChunk } from '../../worker/jobs/lead-chunks';
import { recomputeStart, runRecompute } from '../../worker/jobs/recompute';
import { ingest } from '../../worker/ingest/ingest';
import { Recall } from '../../worker/ingest/recall';
import { WireEvent } from '../../worker/ingest/wire';
import { DEFAULT_MODEL } from '../../worker/scoring/default-model';
import { nextChangeAt } from '../../worker/scoring/next-change';
import { scoreLead } from '../../worker/scoring/score';
import type { Stage } from '../../worker/scoring/model';
import { api, browserEvent, collect, eventId, LEAD_LOG, leadByEmail, newSite, ORIGIN, type TestSite } from './helpers';

const pricingWorth = (points: number) => ({
  ...DEFAULT_MODEL,
  behaviourRules: DEFAULT_MODEL.behaviourRules.map((r) => (r.id === 'pricing-page' ? { ...r, points } : r)),
});

async function storedLead(id: string) {
  return env.DB.prepare('SELECT * FROM leads WHERE id = ?').bind(id).first<Record<string, number | string | null>>();
}

/**
 * The lead's events and profile as stored, scored from scratch by the engine at `now`: with each
 * event's own id and full URL, where a recompute reads only times and shapes.
 */
async function fromTheLog(leadId: string, model = DEFAULT_MODEL, now: number) {
  const { results } = await env.DB.prepare(
    `SELECT e.id, s.type, e.ts, e.url, s.content_type AS contentType, s.props FROM ${LEAD_LOG} AS e JOIN event_shapes AS s ON s.id = e.shape_id`,
  )
    .bind(leadId)
    .all<{ id: string; type: string; ts: number; url: string | null; contentType: string | null; props: string | null }>();
  const lead = (await storedLead(leadId))!;
  const events = results.map((e) => ({ ...e, props: e.props ? JSON.parse(e.props) : null }));
  return scoreLead(model, events, JSON.parse(lead.profile as string), now, 'prospect');
}

describe('recompute', () => {
  it('resumes from its cursor after its run died, and ends with every lead recomputed', async () => {
    const site = await newSite();
    for (let i = 0; i < 5; i++) {
      await collect({ site: site.siteKey, events: [browserEvent(`c${i}`, 'identify', { traits: { email: `c${i}@acme.io` } }), browserEvent(`c${i}`, 'page_view', { url: `${ORIGIN}/pricing` })] });
    }
    const db = database(env.DB);
    const start = await recomputeStart(db, site.id, 1, Date.now());
    await db.batch([db.insert(models).values({ siteId: site.id, version: 1, document: pricingWorth(40), createdAt: Date.now() }), ...start.statements]);

    // A slice that does one chunk of two leads and stops hands the job on at once: the next slice
    // (the queue's next message) claims it without waiting for a lease to expire.
    const partial = await runRecompute(env.DB, start.row.id, Date.now() + 10_000, { chunkLeads: 2, maxChunks: 1 });
    expect(partial).toMatchObject({ status: 'running', processed: 2, leaseUntil: null });
    const next = await runRecompute(env.DB, start.row.id, Date.now() + 10_000, { chunkLeads: 1, maxChunks: 1 });
    expect(next).toMatchObject({ status: 'running', processed: 3, leaseUntil: null });
    // A run that dies keeps its lease: nobody else may take the job while it holds…
    await env.DB.prepare('UPDATE recomputes SET lease_until = ? WHERE id = ?').bind(Date.now() + 60_000, start.row.id).run();
    expect(await runRecompute(env.DB, start.row.id, Date.now() + 10_000)).toBeNull();
    // …and once it has expired, the cron resumes the job where it stopped.
    await env.DB.prepare('UPDATE recomputes SET lease_until = 0 WHERE id = ?').bind(start.row.id).run();
    const ctx = createExecutionContext();
    worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: '* * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);

    const { recompute } = (await (await api(site, '/v1/model/recompute')).json()) as { recompute: { status: string; processed: number; total: number } };
    expect(recompute).toMatchObject({ status: 'done', processed: 5, total: 5 });
    for (let i = 0; i < 5; i++) {
      const lead = (await leadByEmail(site, `c${i}@acme.io`))!;
      expect(lead.scores.activity).toBe(45);
      expect(lead.band).toBe('warm');
      expect(lead.timeline.filter((t) => t.type === 'lead.band_changed' && (t as { cause?: string }).cause === 'recompute')).toHaveLength(1);
    }
  });

  it('splits chunks by their events and reads a heavy lead\'s pages apart, scoring each lead as the log says', async () => {
    const site = await newSite();
    const visits = [3, 9, 1, 12, 2]; // page views per lead
    for (const [i, n] of visits.entries()) {
      const pages = Array.from({ length: n }, (_, k) => browserEvent(`h${i}`, 'page_view', { url: `${ORIGIN}/${k % 2 ? 'pricing' : 'blog/a'}` }));
      await collect({ site: site.siteKey, events: [browserEvent(`h${i}`, 'identify', { traits: { email: `h${i}@acme.io` } }), ...pages] });
    }
    // The two heaviest as leads of long histories have them: their events in a page, none in the row.
    const heaviest = "site_id = ?1 AND email IN ('h1@acme.io', 'h3@acme.io')";
    await env.DB.batch([
      env.DB.prepare(`INSERT INTO lead_history_pages (lead_id, page, history) SELECT id, 0, history FROM leads WHERE ${heaviest}`).bind(site.id),
      env.DB.prepare(`UPDATE leads SET history = '', history_pages = 1 WHERE ${heaviest}`).bind(site.id),
    ]);
    const db = database(env.DB);
    const start = await recomputeStart(db, site.id, 1, Date.now());
    await db.batch([db.insert(models).values({ siteId: site.id, version: 1, document: pricingWorth(40), createdAt: Date.now() }), ...start.statements]);

    // A read with an event budget of 10 stops at the first lead that would take it past 10 events.
    const read = await readChunk(db, site.id, '', { limit: 5, eventBudget: 10 });
    const counts = read.chunk.map((l) => read.eventsOf(l.id).length);
    expect(counts.length).toBeGreaterThanOrEqual(1);
    expect(counts.length).toBeLessThan(5);
    expect(counts.slice(0, -1).reduce((a, b) => a + b, 0)).toBeLessThan(10);
    // Exactly at the budget: the events before the third lead are the budget, so it is left out.
    const whole = await readChunk(db, site.id, '', { limit: 5, eventBudget: 1e9 });
    const [first, second] = whole.chunk.map((l) => whole.eventsOf(l.id).length);
    const atBudget = await readChunk(db, site.id, '', { limit: 5, eventBudget: first! + second! });
    expect(atBudget.chunk.map((l) => l.id)).toEqual(whole.chunk.slice(0, 2).map((l) => l.id));

    const done = await runRecompute(env.DB, start.row.id, Date.now() + 10_000, { chunkLeads: 5, eventBudget: 10 });
    expect(done).toMatchObject({ status: 'done', processed: 5 });

    const now = Date.now();
    for (const [i] of visits.entries()) {
      const lead = (await leadByEmail(site, `h${i}@acme.io`))!;
      const want = await fromTheLog(lead.id, pricingWorth(40), now);
      expect(lead.scores.activity).toBeCloseTo(want.scores.activity, 1);
      expect(lead.band).toBe(want.band);
    }
  });

  it('stops a chunk at its events, across its reads: heavy leads make chunks of fewer leads', async () => {
    const site = await newSite();
    for (const [i, n] of [4, 2, 5, 3, 6, 1].entries()) {
      const pages = Array.from({ length: n }, (_, k) => browserEvent(`e${i}`, 'page_view', { url: `${ORIGIN}/p${k}` }));
      await collect({ site: site.siteKey, events: [browserEvent(`e${i}`, 'identify', { traits: { email: `e${i}@acme.io` } }), ...pages] });
    }
    const { results } = await env.DB.prepare('SELECT event_count AS n FROM leads WHERE site_id = ? ORDER BY id').bind(site.id).all<{ n: number }>();
    const counts = results.map((r) => r.n);
    const db = database(env.DB);
    // Leads a first chunk holds: up to and with the one whose events reach the budget.
    const leadsWithin = (budget: number) => {
      let events = 0;
      for (const [i, n] of counts.entries()) if ((events += n) >= budget) return i + 1;
      return counts.length;
    };
    for (const budget of [1, 7, 12, 1e9]) {
      const start = await recomputeStart(db, site.id, 1, Date.now());
      await db.batch([db.insert(models).values({ siteId: site.id, version: 1, document: pricingWorth(40), createdAt: Date.now() }).onConflictDoNothing(), ...start.statements]);
      // Reads of 2 leads, so that the chunk's budget holds across several of them.
      const first = await runRecompute(env.DB, start.row.id, Date.now() + 10_000, { chunkEvents: budget, limit: 2, maxChunks: 1 });
      expect([budget, first?.processed]).toEqual([budget, leadsWithin(budget)]);
      const done = await runRecompute(env.DB, start.row.id, Date.now() + 10_000, { chunkEvents: budget, limit: 2 });
      expect(done).toMatchObject({ status: 'done', processed: counts.length });
    }
  });

  it("reads each lead's row once a chunk, with its events", async () => {
    const site = await newSite();
    for (let i = 0; i < 30; i++) {
      await collect({ site: site.siteKey, events: [browserEvent(`r${i}`, 'identify', { traits: { email: `r${i}@acme.io` } }), browserEvent(`r${i}`, 'page_view', { url: `${ORIGIN}/pricing` })] });
    }
    const meter: D1Meter = { roundTrips: [] };
    const db = database(meteredD1(env.DB, meter));
    const { chunk, eventsOf } = await readChunk(db, site.id, '', { limit: 20 }, new Map());
    expect(chunk).toHaveLength(20);
    expect(chunk.every((lead) => eventsOf(lead.id).length === 2)).toBe(true);
    // The leads' statement reads each row once: D1 counts it at each of the query's 3 levels (the
    // rows, the window, the budget's filter), and 2 rows more. (Picking the ids first, then reading
    // the rows by id, counted 101 for these 20.) Then the shapes their histories name.
    const [leadsRead, ...rest] = meter.roundTrips.flat();
    expect(leadsRead).toMatchObject({ label: 'select next', read: 3 * 20 + 2 });
    expect(rest.map((st) => st.label)).toEqual(['select event_shapes']);
  });

  it('reads a chunk again, smaller, when a live event wrote to one of its leads since it was read', async () => {
    const site = await newSite();
    for (let i = 0; i < 8; i++) {
      await collect({ site: site.siteKey, events: [browserEvent(`w${i}`, 'identify', { traits: { email: `w${i}@acme.io` } })] });
    }
    const db = database(env.DB);
    const start = await recomputeStart(db, site.id, 1, Date.now());
    await db.batch([db.insert(models).values({ siteId: site.id, version: 1, document: pricingWorth(40), createdAt: Date.now() }), ...start.statements]);
    const before = await env.DB.prepare('SELECT count(*) AS n FROM transitions WHERE site_id = ?').bind(site.id).first<number>('n');

    // Before the first chunk is written, the visitor of its third lead views the pricing page: the
    // chunk's write must not land over that event's score.
    let writes = 0;
    const done = await runRecompute(env.DB, start.row.id, Date.now() + 10_000, {
      chunkLeads: 8,
      beforeWrite: async () => {
        if (writes++ > 0) return;
        const { results } = await env.DB.prepare('SELECT email FROM leads WHERE site_id = ? ORDER BY id LIMIT 1 OFFSET 2').bind(site.id).all<{ email: string }>();
        await collect({ site: site.siteKey, events: [browserEvent(results[0]!.email.split('@')[0]!, 'page_view', { url: `${ORIGIN}/pricing` })] });
      },
    });
    expect(done).toMatchObject({ status: 'done', processed: 8 });
    // The first write was refused and the chunk redone in two halves: three writes in all.
    expect(writes).toBe(3);
    const now = Date.now();
    const { results: rows } = await env.DB.prepare('SELECT id, activity, model_version FROM leads WHERE site_id = ?').bind(site.id).all<{ id: string; activity: number; model_version: number }>();
    for (const row of rows) {
      expect(row.model_version).toBe(1);
      expect(row.activity).toBeCloseTo((await fromTheLog(row.id, pricingWorth(40), now)).scores.activity, 1);
    }
    expect(rows.filter((r) => r.activity > 0)).toHaveLength(1);
    // The refused write left nothing behind: one transition at most per lead (the viewer's band).
    const after = await env.DB.prepare('SELECT count(*) AS n FROM transitions WHERE site_id = ?').bind(site.id).first<number>('n');
    expect(after! - before!).toBeLessThanOrEqual(1);
  });

  // The visitor as the isolate that wrote it recalls it, or on one that never saw it, where its
  // page view is guessed anonymous first and the guessed batch reads it with its lead.
  it.each([
    ['recalled', () => undefined],
    ['guessed anonymous first', () => new Recall()],
  ])('scores with the newest model even when the request looked the site up before it was saved (visitor %s)', async (_, memory) => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [browserEvent('m', 'identify', { traits: { email: 'm@acme.io' } })] });
    const db = database(env.DB);
    await db.insert(models).values({ siteId: site.id, version: 1, document: pricingWorth(40), createdAt: Date.now() });
    // The site as a request found it a moment before the save: still on the built-in model.
    const stale = { id: site.id, name: site.id, siteKey: site.siteKey, origins: [ORIGIN], model: DEFAULT_MODEL, modelVersion: 0, hasWebhooks: false };
    await ingest(env.DB, stale, [WireEvent.parse(browserEvent('m', 'page_view', { url: `${ORIGIN}/pricing` }))], Date.now(), { memory: memory() });
    const lead = (await leadByEmail(site, 'm@acme.io'))!;
    expect(await env.DB.prepare('SELECT model_version FROM leads WHERE id = ?').bind(lead.id).first('model_version')).toBe(1);
    expect(lead.scores.activity).toBe(45); // page view 5 + pricing 40 under version 1
  });

  it('stamps a finished job when its last chunk is stored, not when that chunk was sent', async () => {
    const site = await newSite();
    for (let i = 0; i < 3; i++) await collect({ site: site.siteKey, events: [browserEvent(`f${i}`, 'identify', { traits: { email: `f${i}@acme.io` } })] });
    const db = database(env.DB);
    const start = await recomputeStart(db, site.id, 1, Date.now());
    await db.batch([db.insert(models).values({ siteId: site.id, version: 1, document: pricingWorth(40), createdAt: Date.now() }), ...start.statements]);
    // Every batch answered 20 ms after D1 is done with it: a write that takes its time.
    let lastStored = 0;
    const slow = new Proxy(env.DB, {
      get: (target, key) =>
        key === 'batch'
          ? async (statements: D1PreparedStatement[]) => {
              const results = await target.batch(statements);
              await new Promise((r) => setTimeout(r, 20));
              lastStored = Date.now();
              return results;
            }
          : Reflect.get(target, key).bind(target),
    });
    const done = await runRecompute(slow, start.row.id, Date.now() + 10_000, { chunkLeads: 2 });
    expect(done).toMatchObject({ status: 'done', processed: 3 });
    expect(done!.finishedAt).toBeGreaterThanOrEqual(lastStored);
    expect(done!.updatedAt).toBe(done!.finishedAt);
  });

  it('stops a recompute superseded by a newer model version', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [browserEvent('s', 'identify', { traits: { email: 's@acme.io' } })] });
    await api(site, '/v1/model', { method: 'PUT', body: JSON.stringify(pricingWorth(30)) });
    await api(site, '/v1/model', { method: 'PUT', body: JSON.stringify(pricingWorth(35)) });
    const { results } = await env.DB.prepare('SELECT model_version, status FROM recomputes WHERE site_id = ? ORDER BY model_version').bind(site.id).all();
    expect(results[0]).toMatchObject({ model_version: 1, status: expect.stringMatching(/^(superseded|done)$/) });
    for (let i = 0; i < 100 && (await env.DB.prepare('SELECT status FROM recomputes WHERE site_id = ? AND model_version = 2').bind(site.id).first('status')) !== 'done'; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await env.DB.prepare('SELECT model_version FROM leads WHERE site_id = ?').bind(site.id).first('model_version')).toBe(2);
  });
});

describe('live scoring equals a recompute from the stored events', () => {
  const paths = ['/', '/pricing', '/references/acme', '/blog/a', '/tarifs', '/about'];
  const contentTypes = [undefined, 'white_paper', 'ebook', 'demo_request', 'case_study'];
  const arbEvent = fc.record({
    type: fc.constantFrom('page_view', 'download', 'form_submit'),
    path: fc.constantFrom(...paths),
    contentType: fc.constantFrom(...contentTypes),
    ageMinutes: fc.integer({ min: 0, max: 60 * 24 * 200 }),
  });

  it('for random event streams sent in random batches, in any order, some twice', async () => {
    const sites: TestSite[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbEvent, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom('Marketing', 'Engineer', 'Head of Sales', 'Student'),
        fc.array(fc.nat(), { maxLength: 5 }),
        async (stream, batchSize, jobTitle, resend) => {
          const site = await newSite();
          sites.push(site);
          const now = Date.now();
          const visitor = `prop-${sites.length}`;
          const events = stream.map((e) =>
            browserEvent(visitor, e.type, {
              id: eventId(),
              ts: now - e.ageMinutes * 60_000,
              url: e.type === 'download' ? `${ORIGIN}/files/x.pdf` : `${ORIGIN}${e.path}`,
              ...(e.contentType ? { contentType: e.contentType } : {}),
            }),
          );
          // Identify somewhere in the middle of the stream: earlier events are anonymous until then.
          events.splice(Math.floor(events.length / 2), 0, browserEvent(visitor, 'identify', { traits: { email: `p${sites.length}@acme.io`, jobTitle } }));
          for (let i = 0; i < events.length; i += batchSize) {
            expect((await collect({ site: site.siteKey, events: events.slice(i, i + batchSize) })).status).toBe(202);
          }
          for (const r of resend) await collect({ site: site.siteKey, events: [events[r % events.length]] });

          const lead = (await leadByEmail(site, `p${sites.length}@acme.io`))!;
          const row = (await storedLead(lead.id))!;
          const replay = await fromTheLog(lead.id, DEFAULT_MODEL, row.scored_at as number);
          expect(row.event_count).toBe(events.length);
          // The packed history in the lead's row holds exactly the log's events, whatever the batches.
          const { results: log } = await env.DB.prepare(`SELECT ts, shape_id FROM ${LEAD_LOG}`).bind(lead.id).all<{ ts: number; shape_id: number }>();
          expect(parseHistory(row.history as string).map((e) => `${e.ts}:${e.shapeId}`).sort()).toEqual(log.map((e) => `${e.ts}:${e.shape_id}`).sort());
          expect({ fit: row.fit, activity: row.activity, engagement: row.engagement, band: row.band }).toEqual({ ...replay.scores, band: replay.band });
          expect(row.excluded_reason).toBe(replay.exclusion?.reason ?? null);
          // The stored wake-up may come early (see `nextWake`), never late.
          const exact = nextChangeAt(DEFAULT_MODEL, replay, row.scored_at as number);
          if (exact !== null) expect(row.next_change_at).toBeLessThanOrEqual(exact);
          // Forward-only stages: live can only be at or past what one pass over the log reaches.
          expect(['prospect', 'lead', 'mql'].indexOf(row.stage as Stage)).toBeGreaterThanOrEqual(['prospect', 'lead', 'mql'].indexOf(replay.stage));
        },
      ),
      { numRuns: 15, seed: 20261122 },
    );
    // Fifteen sites and a few hundred requests: a guard against a hang, not a speed check.
  }, 60_000);
});
