import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { database } from '../../worker/db/client';
import { dayOf } from '../../worker/lib/day';
import { runBatch } from '../../worker/db/statements';
import { counterWrites, type Move } from '../../worker/segments/counters';
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
  it('follow every lead write: events, exclusions, sales, a model change, and match a full count', async () => {
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
    expect(await shown(site)).toMatchObject(await counted(site.id));

    // A model that moves every score and every band boundary.
    const { model } = (await (await api(site, '/v1/model')).json()) as { model: { behaviourRules: { id: string; points: number }[]; bands: { min: number }[] } };
    model.behaviourRules = model.behaviourRules.map((r) => (r.id === 'pricing-page' ? { ...r, points: r.points + 7 } : r));
    model.bands = model.bands.map((b, i) => (i === 0 ? b : { ...b, min: b.min + 10 }));
    expect((await api(site, '/v1/model', { method: 'PUT', body: JSON.stringify(model) })).status).toBe(201);
    await waitForRecompute(site);
    const after = await shown(site);
    expect(after).toMatchObject(await counted(site.id));
    expect(after.raw.total).toBe(10);
    expect(after.stats.bucket).toBe(5);
  });

  it('keep a count per day, show yesterday, and heal by recounting when a day begins', async () => {
    const site = await newSite();
    for (let i = 0; i < 3; i++) await collect({ site: site.siteKey, events: [identify(`d${i}`, `d${i}@acme.io`, { jobTitle: 'Marketing' })] });
    const db = database(env.DB);
    const now = Date.now();
    await snapshotSegments(db, now - 86_400_000);
    await collect({ site: site.siteKey, events: [identify('d3', 'd3@acme.io', { jobTitle: 'Marketing' })] });
    const bands = (await (await api(site, '/v1/bands')).json()) as Bands;
    expect(bands.bands.find((b) => b.name === 'warm')).toMatchObject({ count: 4, yesterday: 3 });

    // A counter gone wrong is put right by the first snapshot of a day.
    await env.DB.prepare(`UPDATE segment_histograms SET counts = json_set(counts, '$.band."warm"', 999) WHERE site_id = ?`).bind(site.id).run();
    await snapshotSegments(db, now);
    expect((await shown(site)).bands).toEqual((await counted(site.id)).bands);
    const { history } = (await (await api(site, '/v1/bands/stats')).json()) as Stats;
    expect(history).toEqual([
      { day: dayOf(now - 86_400_000), bands: { warm: 3 } },
      { day: dayOf(now), bands: { warm: 4 } },
    ]);
  });

  it('recount the score buckets under the keys live writes use, so that leads moving afterwards leave them right', async () => {
    const site = await newSite();
    for (let i = 0; i < 3; i++) {
      await collect({ site: site.siteKey, events: [identify(`b${i}`, `b${i}@acme.io`, { jobTitle: 'Marketing' }), ...pages(`b${i}`, '/pricing')] });
    }
    // The first snapshot of the site's day recounts every counter from the leads.
    await snapshotSegments(database(env.DB), Date.now());
    const keys = (await env.DB.prepare(`SELECT j.key FROM segment_histograms AS h, json_each(h.counts, '$.score') AS j WHERE h.site_id = ?`).bind(site.id).all<{ key: string }>()).results;
    expect(keys).toHaveLength(new Set(keys.map((k) => k.key)).size);
    expect(keys.map((k) => k.key).every((k) => /^-?\d+$/.test(k)), JSON.stringify(keys)).toBe(true);

    // Every lead leaves its bucket: the recounted rows must be the ones decremented.
    for (let i = 0; i < 3; i++) await collect({ site: site.siteKey, events: pages(`b${i}`, '/pricing', '/references') });
    expect((await shown(site)).histogram).toEqual((await counted(site.id)).histogram);
  });

  it('add up moves over more counters than one statement binds, across sites, and net them to zero', async () => {
    const [a, b] = [await newSite(), await newSite()];
    // 120 leads in 120 buckets of one band and 3 excluded on one site, 2 leads on the other: 240
    // parameters' worth of counters on the first, in several statements.
    const arrivals: Move[] = [
      ...Array.from({ length: 120 }, (_, i) => ({ siteId: a.id, before: null, after: { band: 'hot', score: i * 5 - 100 } })),
      ...Array.from({ length: 3 }, () => ({ siteId: a.id, before: null, after: { band: null, score: 0 } })),
      { siteId: b.id, before: null, after: { band: 'warm', score: 12 } },
      { siteId: b.id, before: null, after: { band: 'warm', score: 14.5 } },
    ];
    const writes = counterWrites(arrivals);
    expect(writes.length).toBeGreaterThan(2);
    await runBatch(env.DB, writes);
    const db = database(env.DB);
    const histogram = async (siteId: string) => countsIn(await countersOf(db, siteId));
    const first = await histogram(a.id);
    expect(first.band).toEqual({ hot: 120, '': 3 });
    expect(Object.keys(first.score)).toHaveLength(120);
    expect(Object.entries(first.score).every(([key, n]) => n === 1 && Number(key) % 5 === 0 && Number(key) >= -100 && Number(key) < 500)).toBe(true);
    expect(await histogram(b.id)).toEqual({ band: { warm: 2 }, score: { '10': 2 } });
    // Counts stay integers in the JSON: D1 binds numbers as REALs.
    expect(await env.DB.prepare('SELECT counts FROM segment_histograms WHERE site_id = ?').bind(b.id).first('counts')).toBe('{"band":{"warm":2},"score":{"10":2}}');

    // Each lead moves on (a's to the next bucket, b's within theirs, which changes nothing), then leaves.
    const moved = arrivals.map((m) => ({ ...m, before: m.after, after: m.after && { ...m.after, score: m.after.score + (m.siteId === a.id ? 5 : 0.1) } }));
    expect(counterWrites(moved.filter((m) => m.siteId === b.id))).toEqual([]);
    await runBatch(env.DB, counterWrites(moved));
    const next = await histogram(a.id);
    expect(next.score['-100']).toBe(0);
    expect(next.score['500']).toBe(1);
    expect(next.band).toEqual({ hot: 120, '': 3 });
    await runBatch(env.DB, counterWrites(moved.map((m) => ({ ...m, before: m.after, after: null }))));
    const left = await histogram(a.id);
    expect(Object.values(left.band).every((n) => n === 0) && Object.values(left.score).every((n) => n === 0)).toBe(true);
    expect(await histogram(b.id)).toEqual({ band: { warm: 0 }, score: { '10': 0 } });
  });
});

