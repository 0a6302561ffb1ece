/**
 * A lead's events packed into its row (`leads.history`, see worker/db/lead-history.ts): kept equal
 * to the log by every writer, and a long history paged (see `lead_history_pages`).
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { HISTORY_MAX, parseHistory } from '../../worker/db/lead-history';
import { DEFAULT_MODEL } from '../../worker/scoring/default-model';
import { scoreLead } from '../../worker/scoring/score';
import { browserEvent, collect, fillHistory, newSite, ORIGIN, packedHistory, type TestSite } from './helpers';

async function leadRow(site: TestSite, email: string) {
  return env.DB.prepare('SELECT id, history, history_pages, event_count, activity, scored_at FROM leads WHERE site_id = ? AND email = ?')
    .bind(site.id, email)
    .first<{ id: string; history: string | null; history_pages: number; event_count: number; activity: number; scored_at: number }>();
}

/** The lead's events as the log holds them: `ts:shape` pairs, sorted. */
async function logOf(leadId: string) {
  const { results } = await env.DB.prepare('SELECT ts, shape_id FROM events WHERE lead_id = ?').bind(leadId).all<{ ts: number; shape_id: number }>();
  return results.map((e) => `${e.ts}:${e.shape_id}`).sort();
}

/** The engine over the lead's logged events, at `now`. */
async function scoredFromLog(leadId: string, now: number) {
  const { results } = await env.DB.prepare(
    'SELECT e.id, s.type, e.ts, e.url, s.content_type AS contentType, s.props FROM events AS e JOIN event_shapes AS s ON s.id = e.shape_id WHERE e.lead_id = ?',
  )
    .bind(leadId)
    .all<{ id: string; type: string; ts: number; url: string | null; contentType: string | null; props: string | null }>();
  return scoreLead(DEFAULT_MODEL, results.map((e) => ({ ...e, props: e.props ? JSON.parse(e.props) : null })), {}, now, 'prospect');
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
  });
});
