/**
 * A lead's events packed into its row (`leads.history`, see worker/db/lead-history.ts): kept equal
 * to the log by every writer, and a long history paged (see `lead_history_pages`).
 */
import { createExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import worker from '../../worker/index';
import { describe, expect, it } from 'vitest';
import { HISTORY_MAX, parseHistory } from '../../worker/db/lead-history';
import { DEFAULT_MODEL } from '../../worker/scoring/default-model';
import { scoreHistory } from '../../worker/scoring/history';
import { scoreLead } from '../../worker/scoring/score';
import type { Profile, ScoringEvent } from '../../worker/scoring/types';
import { api, browserEvent, collect, fillHistory, LEAD_LOG, newSite, ORIGIN, packedHistory, type LeadJson, type TestSite } from './helpers';

async function leadRow(site: TestSite, email: string) {
  return env.DB.prepare('SELECT id, history, history_pages, event_count, activity, scored_at FROM leads WHERE site_id = ? AND email = ?')
    .bind(site.id, email)
    .first<{ id: string; history: string | null; history_pages: number; event_count: number; activity: number; scored_at: number }>();
}

/** The lead's events as the log holds them: `ts:shape` pairs, sorted. */
async function logOf(leadId: string) {
  const { results } = await env.DB.prepare(`SELECT ts, shape_id FROM ${LEAD_LOG}`).bind(leadId).all<{ ts: number; shape_id: number }>();
  return results.map((e) => `${e.ts}:${e.shape_id}`).sort();
}

/** The lead's logged events as the engine sees them: the shape's rule URL stands for the event's. */
async function loggedOf(leadId: string): Promise<ScoringEvent[]> {
  const { results } = await env.DB.prepare(
    `SELECT e.id, s.type, e.ts, s.url, s.content_type AS contentType, s.props FROM ${LEAD_LOG} AS e JOIN event_shapes AS s ON s.id = e.shape_id`,
  )
    .bind(leadId)
    .all<{ id: string; type: string; ts: number; url: string | null; contentType: string | null; props: string | null }>();
  return results.map((e) => ({ ...e, props: e.props ? JSON.parse(e.props) : null }));
}

/** The engine over the lead's logged events, at `now`. */
async function scoredFromLog(leadId: string, now: number, profile: Profile = {}) {
  return scoreLead(DEFAULT_MODEL, await loggedOf(leadId), profile, now, 'prospect');
}

describe('lead history', () => {
  it('holds what the log holds through anonymous events, an identify, new pages and duplicates', async () => {
    const site = await newSite();
    const early = [browserEvent('lh', 'page_view', { url: `${ORIGIN}/blog/a` }), browserEvent('lh', 'page_view', { url: `${ORIGIN}/pricing` })];
    await collect({ site: site.siteKey, events: early });
    await collect({ site: site.siteKey, events: [browserEvent('lh', 'identify', { traits: { email: 'lh@acme.io' } }), browserEvent('lh', 'page_view', { url: `${ORIGIN}/new-page` })] });
    await collect({ site: site.siteKey, events: [early[0], browserEvent('lh', 'download', { url: `${ORIGIN}/files/x.pdf`, contentType: 'white_paper' })] });
    const lead = (await leadRow(site, 'lh@acme.io'))!;
    expect(lead.event_count).toBe(5);
    expect(parseHistory(lead.history!).map((e) => `${e.ts}:${e.shapeId}`).sort()).toEqual(await logOf(lead.id));
  });

  it('pages a long history, and scores the lead from its pages and row as the log would', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [browserEvent('lp', 'identify', { traits: { email: 'lp@acme.io' } }), browserEvent('lp', 'page_view', { url: `${ORIGIN}/pricing` })] });
    const { id } = (await leadRow(site, 'lp@acme.io'))!;
    await fillHistory(id, HISTORY_MAX, Date.now() - (HISTORY_MAX + 10) * 3_600_000);
    const pages = () => env.DB.prepare('SELECT page, length(history) - length(replace(history, ",", "")) + 1 AS n FROM lead_history_pages WHERE lead_id = ?').bind(id).all();
    const check = async (events: number, pageCount: number) => {
      const lead = (await leadRow(site, 'lp@acme.io'))!;
      expect(lead).toMatchObject({ event_count: events, history_pages: pageCount });
      expect(await packedHistory(id)).toEqual(await logOf(id));
      expect(lead.activity).toBe((await scoredFromLog(id, lead.scored_at)).scores.activity);
    };
    // Not rescored yet: the row holds the events, nothing else moved.
    expect(await packedHistory(id)).toEqual(await logOf(id));
    // Two page views more than a row holds: its events move to a page of their own.
    await collect({ site: site.siteKey, events: [browserEvent('lp', 'page_view', { url: `${ORIGIN}/pricing` }), browserEvent('lp', 'page_view', { url: `${ORIGIN}/references` })] });
    await check(HISTORY_MAX + 2, 1);
    expect((await pages()).results).toEqual([{ page: 0, n: HISTORY_MAX }]);
    expect((await leadRow(site, 'lp@acme.io'))!.history!.split(',')).toHaveLength(2);
    // The next ones go to the row, the page stays as it is: from another browser that identifies
    // with its anonymous page view too.
    await collect({ site: site.siteKey, events: [browserEvent('lp2', 'page_view', { url: `${ORIGIN}/blog/x` })] });
    await collect({ site: site.siteKey, events: [browserEvent('lp2', 'identify', { traits: { email: 'lp@acme.io' } })] });
    await check(HISTORY_MAX + 4, 1);
    expect((await pages()).results).toEqual([{ page: 0, n: HISTORY_MAX }]);
    // The isolate recalls the lead, pages and all: these two are written from memory.
    for (const path of ['/pricing', '/references']) await collect({ site: site.siteKey, events: [browserEvent('lp', 'page_view', { url: `${ORIGIN}${path}` })] });
    await check(HISTORY_MAX + 6, 1);
    expect((await pages()).results).toEqual([{ page: 0, n: HISTORY_MAX }]);
  });

  it("shows a long history's lead page from its packed history and the log's latest events, as the log says", async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [browserEvent('lg', 'identify', { traits: { email: 'lg@acme.io', jobTitle: 'CMO' } }), browserEvent('lg', 'page_view', { url: `${ORIGIN}/pricing` })] });
    const { id } = (await leadRow(site, 'lg@acme.io'))!;
    await fillHistory(id, HISTORY_MAX, Date.now() - (HISTORY_MAX + 10) * 3_600_000);
    await collect({ site: site.siteKey, events: [browserEvent('lg', 'page_view', { url: `${ORIGIN}/pricing` }), browserEvent('lg', 'download', { url: `${ORIGIN}/files/x.pdf`, contentType: 'white_paper' })] });
    expect((await leadRow(site, 'lg@acme.io'))!.history_pages).toBe(1);
    const page = (await (await api(site, `/v1/leads/${id}`)).json()) as Omit<LeadJson, 'timeline'> & { scoredAt: number; timeline: { kind: string; id?: string; score?: number | null }[] };
    // The breakdown adds up as the whole log does, at the last scoring.
    expect(page.breakdown).toEqual((await scoredFromLog(id, page.scoredAt, page.profile as Profile)).breakdown);
    // The timeline shows the log's latest 200 events, newest first; the latest 50 (a history past
    // 2,000 events) with the score the whole log gives after each.
    const logged = await loggedOf(id);
    // (Events of one moment show in the order they happened, as the timeline sorts by time alone.)
    const latest = [...logged]
      .sort((a, b) => b.ts - a.ts || (a.id < b.id ? 1 : -1))
      .slice(0, 200)
      .reverse()
      .sort((a, b) => b.ts - a.ts);
    const shown = page.timeline.filter((t) => t.kind === 'event');
    expect(shown.map((t) => t.id)).toEqual(latest.map((e) => e.id));
    const points = new Map(scoreHistory(DEFAULT_MODEL, logged, page.profile as Profile, 50).map((p) => [p.eventId, p.total]));
    expect(shown.map((t) => t.score)).toEqual(latest.map((e) => points.get(e.id) ?? null));
    expect(shown.filter((t) => t.score !== null)).toHaveLength(50);
    // What D1 counts for the page: the log's latest 201 events and the history's rows, not the log.
    const metered = await worker.fetch(
      new Request(`https://leadscore.test/v1/leads/${id}`, { headers: { authorization: `Bearer ${site.apiKey}` } }),
      { ...env, D1_METERING: 'on' },
      createExecutionContext(),
    );
    // Measured: 408 rows read in 2 round trips (the events' 402: 201 index entries and rows; the
    // page, 1), where reading the whole log read 10,009 in 1.
    expect(metered.headers.get('leadscore-d1-statements')).toMatch(/select events 402\/0.* \| select lead_history_pages 1\/0$/);
    expect(metered.headers.get('leadscore-d1-rows')).toMatch(/^read=4\d\d,written=0,roundtrips=2$/);
  });
});
