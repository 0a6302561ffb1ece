/**
 * A lead's events packed into its row (`leads.history`, see worker/db/lead-history.ts): kept equal
 * to the log by every writer, and a lead whose history is NULL (past the limit) scored from the log.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { parseHistory } from '../../worker/db/lead-history';
import { DEFAULT_MODEL } from '../../worker/scoring/default-model';
import { scoreLead } from '../../worker/scoring/score';
import { browserEvent, collect, newSite, ORIGIN, type TestSite } from './helpers';

async function leadRow(site: TestSite, email: string) {
  return env.DB.prepare('SELECT id, history, event_count, activity, scored_at FROM leads WHERE site_id = ? AND email = ?')
    .bind(site.id, email)
    .first<{ id: string; history: string | null; event_count: number; activity: number; scored_at: number }>();
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

  it('scores a lead whose history is NULL from the log, and leaves it NULL', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [browserEvent('ln', 'identify', { traits: { email: 'ln@acme.io' } }), browserEvent('ln', 'page_view', { url: `${ORIGIN}/pricing` })] });
    // As a lead past the history's limit has it, written as every writer writes a lead: its rev moves.
    await env.DB.prepare("UPDATE leads SET history = NULL, rev = rev + 1 WHERE site_id = ? AND email = 'ln@acme.io'").bind(site.id).run();
    await collect({ site: site.siteKey, events: [browserEvent('ln', 'page_view', { url: `${ORIGIN}/pricing` }), browserEvent('ln', 'page_view', { url: `${ORIGIN}/references` })] });
    const lead = (await leadRow(site, 'ln@acme.io'))!;
    expect(lead.history).toBeNull();
    expect(lead.event_count).toBe(4);
    expect(lead.activity).toBe((await scoredFromLog(lead.id, lead.scored_at)).scores.activity);
  });
});
