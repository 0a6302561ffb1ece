/**
 * Is the model right? Outcomes recorded through `PATCH /v1/leads/{id}`, the quality report, weights
 * suggested from a synthetic site whose true weights are known, and the backtest, all through the
 * worker on real D1.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { database } from '../../worker/db/client';
import { reachedCount, salesMoves, siteFeedback } from '../../worker/quality/read';
import { SuggestionAnswer } from '../../worker/openapi/responses';
import { MIN_LOST, MIN_WON } from '../../worker/quality/suggest';
import { flatPagesModel, seeded, sigmoid } from '../unit/quality/synthetic';
import { api, newSite, type TestSite } from './helpers';

type Json = Record<string, any>;

const PAGES = ['pricing', 'demo', 'blog', 'careers'] as const;
/** The site's truth: log-odds of winning per page visited. */
const TRUTH: Record<(typeof PAGES)[number], number> = { pricing: 2, demo: 1, blog: -1, careers: -2 };

/** Every page worth the same unless told: the model a marketer starts from before outcomes say otherwise. */
const flatModel = (points: Partial<Record<(typeof PAGES)[number], number>> = {}) => flatPagesModel(PAGES, points);

async function saveModel(site: TestSite, model: unknown) {
  const res = await api(site, '/v1/model', { method: 'PUT', body: JSON.stringify(model) });
  expect(res.status).toBe(201);
}

/** Sends page views as a server would, 100 per request: `visits[email]` lists the paths. */
async function sendVisits(site: TestSite, visits: Map<string, string[]>, ts: number) {
  const events = [...visits].flatMap(([email, paths]) =>
    paths.map((path, i) => ({ id: `${email}-${i}`, type: 'page_view', ts: ts + i, email, url: `https://www.acme-shop.example${path}` })),
  );
  for (let i = 0; i < events.length; i += 100) {
    const res = await api(site, '/v1/events', { method: 'POST', body: JSON.stringify({ events: events.slice(i, i + 100) }) });
    expect(res.status).toBe(202);
    expect(((await res.json()) as Json).rejected).toEqual([]);
  }
}

async function leadIds(site: TestSite): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let cursor: string | null = ''; cursor !== null; ) {
    const res = await api(site, `/v1/leads?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const page = (await res.json()) as { leads: { id: string; email: string }[]; nextCursor: string | null };
    for (const l of page.leads) out.set(l.email, l.id);
    cursor = page.nextCursor;
  }
  return out;
}

const patch = (site: TestSite, id: string, body: unknown) => api(site, `/v1/leads/${id}`, { method: 'PATCH', body: JSON.stringify(body) });

/**
 * A synthetic site: `n` leads, each visiting each page with probability ½ (and the home page), won
 * with probability σ(Σ true weights of the pages visited). Won leads become customers (half of
 * them) or are marked won; the others are marked lost or bad fit.
 */
async function syntheticSite(n: number, seed: number) {
  const site = await newSite();
  await saveModel(site, flatModel());
  const random = seeded(seed);
  const visits = new Map<string, string[]>();
  const won = new Map<string, boolean>();
  for (let i = 0; i < n; i++) {
    const email = `lead${i}@buyer${i}.example`;
    const pages = PAGES.filter(() => random() < 0.5);
    visits.set(email, ['/', ...pages.map((p) => `/${p}`)]);
    won.set(email, random() < sigmoid(pages.reduce((s, p) => s + TRUTH[p], 0)));
  }
  await sendVisits(site, visits, Date.now() - 3_600_000);
  const ids = await leadIds(site);
  expect(ids.size).toBe(n);
  let i = 0;
  for (const [email, isWon] of won) {
    const body = isWon
      ? i % 2 ? { stage: 'customer' } : { feedback: { outcome: 'won' } }
      : i % 3 ? { feedback: { outcome: 'lost', note: 'went with a competitor' } } : { feedback: { fit: 'bad' } };
    expect((await patch(site, ids.get(email)!, body)).status).toBe(200);
    i++;
  }
  return { site, won: [...won.values()].filter(Boolean).length };
}

describe('outcomes', () => {
  it('takes won, lost, bad_fit and not_reached as feedback, keeps the history, and refuses anything else with a clear 400', async () => {
    const site = await newSite();
    await sendVisits(site, new Map([['ana@initech.example', ['/pricing']]]), Date.now() - 1000);
    const id = (await leadIds(site)).get('ana@initech.example')!;
    for (const outcome of ['not_reached', 'bad_fit', 'lost', 'won']) expect((await patch(site, id, { feedback: { outcome } })).status).toBe(200);
    const lead = (await (await api(site, `/v1/leads/${id}`)).json()) as Json;
    expect(lead.feedback.map((f: Json) => f.outcome)).toEqual(['won', 'lost', 'bad_fit', 'not_reached']);

    const bad = await patch(site, id, { feedback: { outcome: 'maybe' } });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as Json;
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.issues[0].path).toEqual(['feedback', 'outcome']);
  });
});

describe('GET /v1/quality', () => {
  it('counts per band and stage, conversions with intervals, MQL to SQL, false positives and outcomes', async () => {
    const site = await newSite();
    await saveModel(site, flatModel());
    const now = Date.now() - 60_000;
    // hot (pricing + demo + blog = 30), warm (pricing + demo = 20, an MQL), cold (blog = 10).
    await sendVisits(
      site,
      new Map([
        ['won@a.example', ['/pricing', '/demo', '/blog']],
        ['badfit@b.example', ['/pricing', '/demo', '/blog']],
        ['mql@c.example', ['/pricing', '/demo']],
        ['lost@d.example', ['/blog']],
        ['quiet@e.example', ['/blog']],
      ]),
      now,
    );
    const ids = await leadIds(site);
    expect((await patch(site, ids.get('won@a.example')!, { stage: 'sql' })).status).toBe(200);
    expect((await patch(site, ids.get('won@a.example')!, { stage: 'customer' })).status).toBe(200);
    expect((await patch(site, ids.get('badfit@b.example')!, { feedback: { outcome: 'bad_fit' } })).status).toBe(200);
    expect((await patch(site, ids.get('mql@c.example')!, { stage: 'sql', feedback: { outcome: 'not_reached' } })).status).toBe(200);
    expect((await patch(site, ids.get('lost@d.example')!, { feedback: { outcome: 'lost' } })).status).toBe(200);

    const res = await api(site, '/v1/quality');
    expect(res.status).toBe(200);
    const q = (await res.json()) as Json;
    expect(q.leads).toBe(5);
    expect(q.outcomes).toEqual({ won: 1, lost: 1, bad_fit: 1, not_reached: 1 });
    const band = (name: string) => q.bands.find((b: Json) => b.band === name);
    expect(band('hot').leads).toBe(2);
    expect(band('hot').reached.customer).toMatchObject({ k: 1, n: 2, rate: 0.5 });
    expect(band('hot').reached.customer.low).toBeLessThan(0.5);
    expect(band('hot').reached.customer.high).toBeGreaterThan(0.5);
    expect(band('warm').reached.sql).toMatchObject({ k: 1, n: 1 });
    expect(band('cold')).toMatchObject({ leads: 2, reached: { sql: { k: 0, n: 2 } } });
    const stage = (name: string) => q.stages.find((s: Json) => s.stage === name);
    expect(stage('prospect').leads).toBe(5);
    // The three at 20 points or more reached MQL; two of them went on to SQL, one to customer.
    expect(stage('mql')).toMatchObject({ leads: 3, reached: { sql: { k: 2, n: 3 }, customer: { k: 1, n: 3 } } });
    expect(stage('sql').reached.sql).toMatchObject({ k: 2, n: 2, rate: 1 });
    expect(q.mqlToSql.leads).toBe(2);
    expect(q.mqlToSql.medianMs).toBeGreaterThanOrEqual(0);
    // Hot or MQL and marked bad fit: the one lead, of the three such leads sales touched.
    expect(q.falsePositives).toMatchObject({ k: 1, n: 3, topBand: 'hot', sample: [{ email: 'badfit@b.example', band: 'hot' }] });
    // Rules judged on the won lead against the lost and the bad-fit ones.
    expect(q.decided).toEqual({ won: 1, lost: 2 });
    const blog = q.rules.find((r: Json) => r.ruleId === 'page-blog');
    expect(blog).toMatchObject({ firedWon: { k: 1, n: 1 }, firedLost: { k: 2, n: 2 }, lift: 1 });
    const pricing = q.rules.find((r: Json) => r.ruleId === 'page-pricing');
    expect(pricing).toMatchObject({ firedWon: { k: 1, n: 1 }, firedLost: { k: 1, n: 2 }, lift: 2 });
  });

  it('finds the leads sales touched and the stage counts through indexes, not by walking the leads', async () => {
    const db = database(env.DB);
    for (const query of [salesMoves(db, 's'), reachedCount(db, 's', 'mql'), siteFeedback(db, 's')]) {
      const { sql, params } = query.toSQL();
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...params)
        .all<{ detail: string }>();
      const details = plan.results.map((r) => r.detail).join('\n');
      expect(details).toMatch(/USING (COVERING )?INDEX (transitions_site_stage|feedback_site)/);
      expect(details).not.toMatch(/SCAN (transitions|feedback|leads)\b(?! USING)/);
    }
  });
});

describe('GET /v1/quality/suggestion and POST /v1/quality/backtest', () => {
  it('says so, with a 200 and a message, when there are too few outcomes', async () => {
    const site = await newSite();
    await sendVisits(site, new Map([['a@x.example', ['/pricing']], ['b@y.example', ['/blog']]]), Date.now() - 1000);
    const ids = await leadIds(site);
    await patch(site, ids.get('a@x.example')!, { feedback: { outcome: 'won' } });
    await patch(site, ids.get('b@y.example')!, { feedback: { outcome: 'lost' } });
    const res = await api(site, '/v1/quality/suggestion');
    expect(res.status).toBe(200);
    const s = (await res.json()) as Json;
    expect(s).toMatchObject({ enough: false, won: 1, lost: 1, needed: { won: MIN_WON, lost: MIN_LOST } });
    expect(s.message).toMatch(/Not enough outcomes/);
    expect(s.model).toBeUndefined();
  });

  it('recovers the sign and order of the true weights of a synthetic site, and the backtest prefers the suggestion', async () => {
    const { site } = await syntheticSite(240, 2026);
    const res = await api(site, '/v1/quality/suggestion');
    expect(res.status).toBe(200);
    const s = (await res.json()) as Json;
    expect(s.enough, s.message).toBe(true);
    // The documented schema describes the whole answer, suggestion and all.
    expect(SuggestionAnswer.parse(s)).toEqual(s);
    const points = Object.fromEntries(s.rules.map((r: Json) => [r.ruleId, r.suggested]));
    expect(points['page-pricing']).toBeGreaterThan(points['page-demo']);
    expect(points['page-demo']).toBeGreaterThan(0);
    expect(points['page-blog']).toBeLessThan(0);
    expect(points['page-careers']).toBeLessThan(points['page-blog']);
    // Every rule comes with its evidence.
    for (const r of s.rules) expect(r.firedWon.n + r.firedLost.n).toBe(s.won + s.lost);
    // The flat model cannot tell won from lost as well as the suggestion can.
    expect(s.backtest.candidate.auc).toBeGreaterThan(s.backtest.current.auc);
    // And on leads it did not learn from, fold by fold, as the next leads will be.
    expect(s.heldOut).toMatchObject({ folds: 5 });
    expect(s.heldOut.candidate).toBeGreaterThan(s.heldOut.current);

    // The candidate previews and saves as any model does; nothing changed before that.
    expect(((await (await api(site, '/v1/model')).json()) as Json).model.behaviourRules[0].points).toBe(10);
    const preview = await api(site, '/v1/model/preview', { method: 'POST', body: JSON.stringify({ model: s.model }) });
    expect(preview.status).toBe(200);
    expect(((await preview.json()) as Json).leads).toBe(240);

    // A known-better model (the truth's signs) against a known-worse one (the truth reversed).
    const truthful = flatModel({ pricing: 20, demo: 10, blog: -10, careers: -20 });
    const reversed = flatModel({ pricing: -20, demo: -10, blog: 10, careers: 20 });
    await saveModel(site, reversed);
    const bt = await api(site, '/v1/quality/backtest', { method: 'POST', body: JSON.stringify({ model: truthful }) });
    expect(bt.status).toBe(200);
    const b = (await bt.json()) as Json;
    expect(b.won + b.lost).toBe(240);
    expect(b.candidate.auc).toBeGreaterThan(0.7);
    expect(b.current.auc).toBeLessThan(0.3);
    expect(b.candidate.meanWon).toBeGreaterThan(b.candidate.meanLost);
  }, 120_000);

  it('refuses a candidate that is not a model with a 400 naming the problem', async () => {
    const site = await newSite();
    const res = await api(site, '/v1/quality/backtest', { method: 'POST', body: JSON.stringify({ model: { bands: [] } }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Json;
    expect(body.error.message).toBe('the backtest request is not valid');
    expect(body.error.issues.some((i: Json) => i.path[0] === 'model')).toBe(true);
  });
});
