import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { MAX_PAGE_VIEWS } from '../../worker/ingest/pace';
import { HISTORY_MAX } from '../../worker/db/lead-history';
import { api, browserEvent, collect, fillHistory, LEAD_LOG, leadByEmail, newSite, ORIGIN, packedHistory, rowCounts, type TestSite } from './helpers';

interface CollectAnswer {
  accepted: string[];
  robot?: { ignored: string[] };
}

async function send(site: TestSite, events: ReturnType<typeof browserEvent>[]): Promise<CollectAnswer> {
  const res = await collect({ site: site.siteKey, events });
  expect(res.status).toBe(202);
  return (await res.json()) as CollectAnswer;
}

/** Page views of the pricing page, one every two seconds from `from`: a crawler's pace. */
const crawl = (visitor: string, n: number, from: number) =>
  Array.from({ length: n }, (_, i) => browserEvent(visitor, 'page_view', { url: `${ORIGIN}/pricing?p=${i}`, ts: from + i * 2000 }));

const robotStats = async (site: TestSite) =>
  ((await (await api(site, '/v1/bands/stats')).json()) as { robots: { requests: number; events: number }[] }).robots;

describe('robots by their pace', () => {
  it("sets aside a visitor that views pages faster than anyone reads, with what it had stored, and rescores its lead", async () => {
    const site = await newSite();
    const start = Date.now() - 5 * 60_000;
    await send(site, [browserEvent('h1', 'identify', { traits: { email: 'ana@acme.io' } }), browserEvent('h1', 'page_view', { url: `${ORIGIN}/pricing` })]);
    const person = (await leadByEmail(site, 'ana@acme.io'))!;

    // A crawler walks the site, then, in a request of its own, fills the contact form with Ana's
    // address: it counts for her, what it sent before too (stored without a lead, hers by its visitor).
    const first = crawl('c1', MAX_PAGE_VIEWS / 2, start);
    expect((await send(site, first)).accepted).toHaveLength(first.length);
    expect((await send(site, [browserEvent('c1', 'identify', { traits: { email: 'ana@acme.io' }, ts: start + 101_000 })])).accepted).toHaveLength(1);
    const inflated = (await leadByEmail(site, 'ana@acme.io'))!;
    expect(inflated.score).toBeGreaterThan(person.score);
    expect(await rowCounts(site.id)).toMatchObject({ events: 2 + first.length + 1 });

    // Its next page views cross the limit: all it sent is set aside, its lead is scored as before.
    const rest = crawl('c1', MAX_PAGE_VIEWS / 2 + 1, start + 102_000);
    const caught = await send(site, rest);
    expect(caught.accepted).toEqual([]);
    expect(caught.robot?.ignored).toEqual(rest.map((e) => e.id));
    const after = (await leadByEmail(site, 'ana@acme.io'))!;
    expect({ scores: after.scores, score: after.score, band: after.band }).toEqual({ scores: person.scores, score: person.score, band: person.band });
    expect(await rowCounts(site.id)).toMatchObject({ events: 2, leads: 1 });
    expect(await robotStats(site)).toEqual([expect.objectContaining({ requests: 1, events: rest.length + first.length + 1 })]);

    // From then on it is a robot: a form it fills makes no lead.
    const later = await send(site, [browserEvent('c1', 'identify', { traits: { email: 'bob@acme.io' } })]);
    expect(later).toMatchObject({ accepted: [], robot: { ignored: [expect.any(String)] } });
    expect(await leadByEmail(site, 'bob@acme.io')).toBeUndefined();
    // The person's own browser goes on being scored.
    expect((await send(site, [browserEvent('h1', 'page_view', { url: `${ORIGIN}/references` })])).accepted).toHaveLength(1);
  });

  it('deletes an anonymous crawler’s stored page views once caught, and leaves people alone', async () => {
    const site = await newSite();
    const start = Date.now() - 5 * 60_000;
    expect((await send(site, crawl('c2', 60, start))).accepted).toHaveLength(60);
    // A person who opened thirty tabs at once, and the late replay of a reader's stored events.
    await send(site, Array.from({ length: 30 }, (_, i) => browserEvent('h2', 'page_view', { url: `${ORIGIN}/blog/${i}`, ts: start + i * 50 })));
    await send(site, Array.from({ length: 100 }, (_, i) => browserEvent('h3', 'page_view', { url: `${ORIGIN}/docs/${i}`, ts: start - 3_600_000 + i * 30_000 })));
    expect((await send(site, crawl('c2', 41, start + 120_000))).robot?.ignored).toHaveLength(41);
    expect(await rowCounts(site.id)).toMatchObject({ events: 130, visitors: 3 });
    expect(await robotStats(site)).toEqual([expect.objectContaining({ requests: 1, events: 101 })]);
  });

  it("paces a lead's visitors by the lead's history, and never takes a person's browser for the robot sharing its lead", async () => {
    const site = await newSite();
    const start = Date.now() - 5 * 60_000;
    await send(site, [browserEvent('h4', 'identify', { traits: { email: 'eve@acme.io' }, ts: start }), browserEvent('h4', 'page_view', { url: `${ORIGIN}/`, ts: start })]);
    // A crawler's 60 page views, then Eve's address in a form: they count for her.
    await send(site, [...crawl('c4', 60, start + 1000), browserEvent('c4', 'identify', { traits: { email: 'eve@acme.io' }, ts: start + 121_000 })]);
    const lead = (await leadByEmail(site, 'eve@acme.io'))!;
    const visitorRow = (id: string) => env.DB.prepare('SELECT last_seen, pace_count FROM visitors WHERE site_id = ? AND id = ?').bind(site.id, id).first();
    const identified = await visitorRow('c4');
    // 39 more: the lead's window holds 100 of its page views, 99 of them the crawler's, and one of
    // Eve's: no more than the limit. The crawler's row is left as it was when it identified.
    expect((await send(site, crawl('c4', 39, start + 122_000))).accepted).toHaveLength(39);
    expect(await visitorRow('c4')).toEqual(identified);
    // Eve's next page view makes 101 in the lead's window: her own, counted from the log, are 2.
    expect((await send(site, [browserEvent('h4', 'page_view', { url: `${ORIGIN}/pricing`, ts: start + 200_000 })])).accepted).toHaveLength(1);
    // When each browser was last seen is its events', whatever its row says.
    const exported = (await (await api(site, `/v1/leads/${lead.id}/export`)).json()) as { visitors: { id: string; lastSeen: number }[] };
    expect(Object.fromEntries(exported.visitors.map((v) => [v.id, v.lastSeen]))).toEqual({ h4: start + 200_000, c4: start + 122_000 + 38 * 2000 });
    // The crawler's next one makes 100 of its own in ten minutes, and one more: it is caught, and
    // what it sent leaves Eve's score.
    const caught = await send(site, crawl('c4', 2, start + 202_000));
    expect(caught.robot?.ignored).toHaveLength(2);
    expect(await rowCounts(site.id)).toMatchObject({ events: 3 });
    expect((await leadByEmail(site, 'eve@acme.io'))!.timeline.filter((t) => t.kind === 'event')).toHaveLength(3);
  });

  it("takes a caught robot's events out of a long history, its pages written anew", async () => {
    const site = await newSite();
    const start = Date.now() - 5 * 60_000;
    await send(site, [browserEvent('h6', 'identify', { traits: { email: 'ida@acme.io' }, ts: start }), browserEvent('h6', 'page_view', { url: `${ORIGIN}/`, ts: start })]);
    const lead = (await leadByEmail(site, 'ida@acme.io'))!;
    // Thousands of page views over the past months, then one more: the history has a page.
    await fillHistory(lead.id, HISTORY_MAX, start - (HISTORY_MAX + 10) * 3_600_000);
    await send(site, [browserEvent('h6', 'page_view', { url: `${ORIGIN}/pricing`, ts: start + 500 })]);
    const pages = () => env.DB.prepare('SELECT history_pages FROM leads WHERE id = ?').bind(lead.id).first('history_pages');
    expect(await pages()).toBe(1);
    const before = await packedHistory(lead.id);
    // A crawler identifies as Ida, then crawls on until its own page views give it away.
    await send(site, [...crawl('c6', 60, start + 1000), browserEvent('c6', 'identify', { traits: { email: 'ida@acme.io' }, ts: start + 121_000 })]);
    expect(await packedHistory(lead.id)).toHaveLength(before.length + 61);
    await send(site, crawl('c6', 39, start + 122_000));
    expect((await send(site, crawl('c6', 2, start + 202_000))).robot?.ignored).toHaveLength(2);
    // Its events are gone from the log and from the history, pages and row, and nothing else.
    const log = (await env.DB.prepare(`SELECT ts, shape_id FROM ${LEAD_LOG}`).bind(lead.id).all<{ ts: number; shape_id: number }>()).results;
    expect(log).toHaveLength(HISTORY_MAX + 1);
    expect(await packedHistory(lead.id)).toEqual(log.map((e) => `${e.ts}:${e.shape_id}`).sort());
    expect(await packedHistory(lead.id)).toEqual(before);
    expect(await pages()).toBe(1);
  });
});
