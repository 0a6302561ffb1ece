import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import worker from '../../worker/index';
import { database } from '../../worker/db/client';
import { dayOf } from '../../worker/lib/day';
import { runBatch } from '../../worker/db/statements';
import { counterWrites, type Move } from '../../worker/segments/counters';
import { bucketCounts, countedFrom, recentCounts } from '../../worker/segments/histogram';
import { countersOf, countsIn, snapshotSegments } from '../../worker/segments/snapshot';
import { api, browserEvent, collect, newSite, ORIGIN, type TestSite } from './helpers';

const identify = (visitor: string, email: string, traits: Record<string, unknown> = {}) =>
  browserEvent(visitor, 'identify', { traits: { email, ...traits } });
const pages = (visitor: string, ...paths: string[]) => paths.map((p) => browserEvent(visitor, 'page_view', { url: `${ORIGIN}${p}` }));

interface Bands {
  bands: { name: string; count: number; yesterday: number | null }[];
  excluded: { count: number; yesterday: number | null };
  total: number;
}
interface Stats {
  bucket: number;
  histogram: { min: number; count: number }[];
  countedAt: number;
  history: { day: string; bands: Record<string, number> }[];
}

/** What the counters must say, counted the slow way from the leads. */
async function counted(siteId: string) {
  const rows = (await env.DB.prepare(`SELECT coalesce(band, '') AS band, count(*) AS n FROM leads WHERE site_id = ? GROUP BY 1`).bind(siteId).all<{ band: string; n: number }>()).results;
  const scores = (await env.DB.prepare(`SELECT score FROM leads WHERE site_id = ? AND band IS NOT NULL`).bind(siteId).all<{ score: number }>()).results;
  const histogram = new Map<number, number>();
  for (const { score } of scores) histogram.set(Math.floor(score / 5) * 5, (histogram.get(Math.floor(score / 5) * 5) ?? 0) + 1);
  return {
    bands: Object.fromEntries(rows.map((r) => [r.band, r.n])),
    histogram: [...histogram].map(([min, count]) => ({ min, count })).sort((a, b) => a.min - b.min),
  };
}

async function shown(site: TestSite) {
  const bands = (await (await api(site, '/v1/bands')).json()) as Bands;
  const stats = (await (await api(site, '/v1/bands/stats')).json()) as Stats;
  const byBand: Record<string, number> = Object.fromEntries(bands.bands.filter((b) => b.count > 0).map((b) => [b.name, b.count]));
  if (bands.excluded.count > 0) byBand[''] = bands.excluded.count;
  return { bands: byBand, histogram: stats.histogram, stats, raw: bands };
}

async function waitForRecompute(site: TestSite) {
  for (let i = 0; i < 200; i++) {
    const { recompute } = (await (await api(site, '/v1/model/recompute')).json()) as { recompute: { status: string } | null };
    if (recompute && recompute.status !== 'running') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the recompute never finished');
}

describe('segment counters', () => {
  it('follow every lead write: events, exclusions, sales, a model change, and match a full count, the histogram when it is recounted', async () => {
    const site = await newSite();
    for (let i = 0; i < 8; i++) {
      await collect({ site: site.siteKey, events: [identify(`s${i}`, `s${i}@acme.io`, i % 3 ? { jobTitle: 'Marketing' } : {}), ...pages(`s${i}`, ...Array(i * 2).fill('/pricing'))] });
    }
    await collect({ site: site.siteKey, events: [identify('g', 'free@gmail.com'), ...pages('g', '/pricing')] });
    await collect({ site: site.siteKey, events: [identify('st', 'student@acme.io', { jobTitle: 'Student' })] });
    expect(await shown(site)).toMatchObject(await counted(site.id));

    // Out of exclusion and into a band when the profile changes; a stage set by sales.
    await collect({ site: site.siteKey, events: [identify('st', 'student@acme.io', { jobTitle: 'Marketing' })] });
    const lead = ((await (await api(site, '/v1/leads?q=s3%40acme.io')).json()) as { leads: { id: string }[] }).leads[0]!;
    expect((await api(site, `/v1/leads/${lead.id}`, { method: 'PATCH', body: JSON.stringify({ stage: 'sql' }) })).status).toBe(200);
    // The band counts follow at once; the histogram counted a moment ago stands until it is old.
    expect((await shown(site)).bands).toEqual((await counted(site.id)).bands);

    // A model that moves every score and every band boundary.
    const { model } = (await (await api(site, '/v1/model')).json()) as { model: { behaviourRules: { id: string; points: number }[]; bands: { min: number }[] } };
    model.behaviourRules = model.behaviourRules.map((r) => (r.id === 'pricing-page' ? { ...r, points: r.points + 7 } : r));
    model.bands = model.bands.map((b, i) => (i === 0 ? b : { ...b, min: b.min + 10 }));
    expect((await api(site, '/v1/model', { method: 'PUT', body: JSON.stringify(model) })).status).toBe(201);
    // A new model version: the first look after it recounts.
    await waitForRecompute(site);
    const after = await shown(site);
    expect(after).toMatchObject(await counted(site.id));
    expect(after.raw.total).toBe(10);
    expect(after.stats.bucket).toBe(5);
  });

  it('keep a count per day, show yesterday, and heal by recounting when a day begins', async () => {
    const site = await newSite();
    const db = database(env.DB);
    const now = Date.now();
    // Two days ago 2 leads, yesterday 3: "since yesterday" is yesterday's count, not an older one.
    for (let i = 0; i < 2; i++) await collect({ site: site.siteKey, events: [identify(`d${i}`, `d${i}@acme.io`, { jobTitle: 'Marketing' })] });
    await snapshotSegments(db, now - 2 * 86_400_000);
    await collect({ site: site.siteKey, events: [identify('d2', 'd2@acme.io', { jobTitle: 'Marketing' })] });
    // And an excluded lead, so that yesterday holds two counts, each told apart by its band.
    await collect({ site: site.siteKey, events: [identify('dx', 'dx@gmail.com')] });
    await snapshotSegments(db, now - 86_400_000);
    await collect({ site: site.siteKey, events: [identify('d3', 'd3@acme.io', { jobTitle: 'Marketing' })] });
    const bands = (await (await api(site, '/v1/bands')).json()) as Bands;
    expect(bands.bands.find((b) => b.name === 'warm')).toMatchObject({ count: 4, yesterday: 3 });
    expect(bands.excluded).toEqual({ count: 1, yesterday: 1 });

    // A counter gone wrong is put right by the first snapshot of a day.
    await env.DB.prepare(`UPDATE segment_histograms SET counts = json_set(counts, '$.band."warm"', 999) WHERE site_id = ?`).bind(site.id).run();
    await snapshotSegments(db, now);
    expect((await shown(site)).bands).toEqual((await counted(site.id)).bands);
    const { history } = (await (await api(site, '/v1/bands/stats')).json()) as Stats;
    expect(history).toEqual([
      { day: dayOf(now - 2 * 86_400_000), bands: { warm: 2 } },
      { day: dayOf(now - 86_400_000), bands: { warm: 3, excluded: 1 } },
      { day: dayOf(now), bands: { warm: 4, excluded: 1 } },
    ]);
  });

  it('recount the histogram when first looked at and under a new model, keep it between, and write nothing for it', async () => {
    const site = await newSite();
    for (let i = 0; i < 3; i++) {
      await collect({ site: site.siteKey, events: [identify(`b${i}`, `b${i}@acme.io`, { jobTitle: 'Marketing' }), ...pages(`b${i}`, '/pricing')] });
    }
    const from = Date.now();
    const first = await shown(site);
    expect(first.histogram).toEqual((await counted(site.id)).histogram);
    expect(first.histogram.length).toBeGreaterThan(0);
    expect(first.stats.countedAt).toBeGreaterThanOrEqual(from);
    expect(first.stats.countedAt).toBeLessThanOrEqual(Date.now());

    // Every lead leaves its bucket; looked at again at once, the histogram is the one counted, and
    // the counters row holds the band counts alone.
    for (let i = 0; i < 3; i++) await collect({ site: site.siteKey, events: pages(`b${i}`, '/pricing', '/references') });
    const moved = await counted(site.id);
    expect(moved.histogram).not.toEqual(first.histogram);
    expect((await shown(site)).stats).toMatchObject({ histogram: first.histogram, countedAt: first.stats.countedAt });
    expect(Object.keys(JSON.parse((await env.DB.prepare('SELECT counts FROM segment_histograms WHERE site_id = ?').bind(site.id).first<string>('counts'))!))).toEqual(['band']);

    // The same model saved again is a new version: counted afresh.
    const { model } = (await (await api(site, '/v1/model')).json()) as { model: unknown };
    expect((await api(site, '/v1/model', { method: 'PUT', body: JSON.stringify(model) })).status).toBe(201);
    await waitForRecompute(site);
    const again = await shown(site);
    expect(again.histogram).toEqual(moved.histogram);
    expect(again.stats.countedAt).toBeGreaterThanOrEqual(first.stats.countedAt);
  });

  it('answer a count past its age at once, and recount it after the answer for the next look', async () => {
    const site = await newSite();
    for (let i = 0; i < 3; i++) {
      await collect({ site: site.siteKey, events: [identify(`s${i}`, `s${i}@acme.io`, { jobTitle: 'Marketing' }), ...pages(`s${i}`, '/pricing')] });
    }
    const look = async () => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request('https://leadscore.test/v1/bands/stats', { headers: { authorization: `Bearer ${site.apiKey}` } }), env, ctx);
      expect(res.status).toBe(200);
      return { stats: (await res.json()) as Stats, after: () => waitOnExecutionContext(ctx) };
    };
    const first = await look();
    await first.after();
    expect(first.stats.histogram).toEqual((await counted(site.id)).histogram);

    // Every lead leaves its bucket, and the isolate's count is made a minute old.
    for (let i = 0; i < 3; i++) await collect({ site: site.siteKey, events: pages(`s${i}`, '/pricing', '/references') });
    const moved = await counted(site.id);
    expect(moved.histogram).not.toEqual(first.stats.histogram);
    const { version } = (await (await api(site, '/v1/model')).json()) as { version: number };
    const old = Date.now() - 60_000;
    recentCounts.keep(site.id, version, { histogram: first.stats.histogram, countedAt: old });

    // Answered with the old count, which says how old it is; recounted once the answer is sent.
    const stale = await look();
    expect(stale.stats).toMatchObject({ histogram: first.stats.histogram, countedAt: old });
    await stale.after();
    const fresh = await look();
    expect(fresh.stats.histogram).toEqual(moved.histogram);
    expect(fresh.stats.countedAt).toBeGreaterThan(old);
  });

  it('recount by walking the index what a GROUP BY over every lead counts: negative scores, bucket edges, stale band names, far outliers', async () => {
    const [site, other] = [await newSite(), await newSite()];
    const scores: [string | null, number][] = [
      ['cold', -12.5], ['cold', -5], ['cold', -0.01], ['cold', 0], ['cold', 4.99], ['cold', 5], ['cold', 24.99],
      ['warm', 25], ['warm', 25.01], ['warm', 27.5], ['warm', 29.99], ['warm', 74.99],
      ['hot', 75], ['hot', 75], ['hot', 1000.5], ['hot', 1e6],
      // A band a saved model no longer has, as leads keep it until the recompute reaches them.
      ['lukewarm', 26], ['lukewarm', 33.33],
      // Excluded: in no band, in no bucket.
      [null, 50], [null, -3],
    ];
    const insert = (siteId: string, [band, score]: [string | null, number], i: number) =>
      env.DB.prepare(`INSERT INTO leads (id, site_id, email, profile, score, band) VALUES (?, ?, ?, '{}', ?, ?)`).bind(`ld_${siteId}_${i}`, siteId, `l${i}@${siteId}.example`, score, band);
    await env.DB.batch([...scores.map((s, i) => insert(site.id, s, i)), insert(other.id, ['warm', 27], 0)]);
    const rows = await database(env.DB).batch([bucketCounts(database(env.DB), site.id)]);
    const expected = new Map<number, number>();
    for (const [band, score] of scores) if (band !== null) expected.set(Math.floor(score / 5) * 5, (expected.get(Math.floor(score / 5) * 5) ?? 0) + 1);
    expect(countedFrom(rows[0], 0).histogram).toEqual([...expected].map(([min, count]) => ({ min, count })).sort((a, b) => a.min - b.min));
  });

  it('add up band moves over more counters than one statement binds, across sites, and net them to zero', async () => {
    const [a, b] = [await newSite(), await newSite()];
    // 120 leads in 120 bands and 3 excluded on one site, 2 leads on the other: 242 parameters' worth
    // of counters on the first, in several statements.
    const arrivals: Move[] = [
      ...Array.from({ length: 120 }, (_, i) => ({ siteId: a.id, before: null, after: { band: `b${i}` } })),
      ...Array.from({ length: 3 }, () => ({ siteId: a.id, before: null, after: { band: null } })),
      { siteId: b.id, before: null, after: { band: 'warm' } },
      { siteId: b.id, before: null, after: { band: 'warm' } },
    ];
    const writes = counterWrites(arrivals);
    expect(writes.length).toBeGreaterThan(2);
    await runBatch(env.DB, writes);
    const db = database(env.DB);
    const histogram = async (siteId: string) => countsIn(await countersOf(db, siteId));
    const first = await histogram(a.id);
    expect(Object.keys(first.band)).toHaveLength(121);
    expect(first.band['']).toBe(3);
    expect(Object.entries(first.band).every(([key, n]) => key === '' || n === 1)).toBe(true);
    expect(await histogram(b.id)).toEqual({ band: { warm: 2 } });
    // Counts stay integers in the JSON: D1 binds numbers as REALs.
    expect(await env.DB.prepare('SELECT counts FROM segment_histograms WHERE site_id = ?').bind(b.id).first('counts')).toBe('{"band":{"warm":2}}');

    // Each lead moves on (a's to the next band, b's within theirs, which writes nothing), then leaves.
    const next = (band: string | null) => (band === null ? null : `b${Number(band.slice(1)) + 1}`);
    const moved = arrivals.map((m) => ({ ...m, before: m.after, after: m.after && { band: m.siteId === a.id ? next(m.after.band) : m.after.band } }));
    expect(counterWrites(moved.filter((m) => m.siteId === b.id))).toEqual([]);
    await runBatch(env.DB, counterWrites(moved));
    const then = await histogram(a.id);
    expect([then.band['b0'], then.band['b1'], then.band['b120'], then.band['']]).toEqual([0, 1, 1, 3]);
    await runBatch(env.DB, counterWrites(moved.map((m) => ({ ...m, before: m.after, after: null }))));
    const left = await histogram(a.id);
    expect(Object.values(left.band).every((n) => n === 0)).toBe(true);
    expect(await histogram(b.id)).toEqual({ band: { warm: 0 } });
  });
});

