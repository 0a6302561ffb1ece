import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { database } from '../../worker/db/client';
import { siteBySiteKey } from '../../worker/db/sites';
import { ingest } from '../../worker/ingest/ingest';
import { WireEvent } from '../../worker/ingest/wire';
import { browserEvent, busyD1, collect, fillHistory, LEAD_LOG, leadByEmail, leadLogOf, newSite, ORIGIN, proxiedD1, rowCounts, type LeadJson } from './helpers';

/** The test's D1, running `between` once, after the first batch (the read) and before the next (the write). */
function betweenReadAndWrite(between: () => Promise<unknown>): D1Database {
  let batches = 0;
  return proxiedD1({
    batch: async <T>(statements: D1PreparedStatement[]) => {
      if (++batches === 2) await between();
      return env.DB.batch<T>(statements);
    },
  });
}

describe('identity', () => {
  it("counts a visitor's anonymous history for the lead once a form identifies it", async () => {
    const site = await newSite();
    const pages = ['/', '/pricing', '/references'].map((p) => browserEvent('anon-1', 'page_view', { url: `${ORIGIN}${p}` }));
    await collect({ site: site.siteKey, events: pages });
    expect(await rowCounts(site.id)).toMatchObject({ events: 3, visitors: 1, leads: 0 });

    await collect({
      site: site.siteKey,
      events: [
        browserEvent('anon-1', 'form_submit', {
          url: `${ORIGIN}/contact`,
          fields: { email: 'carla@globex.io', job_title: 'VP Marketing', company: 'Globex', company_size: '250', content_type: 'white_paper' },
          props: { form: 'contact' },
        }),
      ],
    });
    const lead = await leadByEmail(site, 'carla@globex.io');
    // 3 pages (15) + pricing (15) + references (10) + form (10) + white paper (20)
    expect(lead?.scores.activity).toBe(70);
    expect(lead?.scores.fit).toBe(50);
    expect(lead?.band).toBe('hot');
    expect(lead?.profile).toMatchObject({ jobTitle: 'VP Marketing', company: 'Globex', companySize: '250' });
    expect(lead?.profile).not.toHaveProperty('content_type');
    // Its anonymous past is the lead's by the visitor's link: no event of the site is anyone else's.
    const { n: logged } = (await env.DB.prepare(`SELECT count(*) AS n FROM ${LEAD_LOG}`).bind(lead!.id).first<{ n: number }>())!;
    expect(await rowCounts(site.id)).toMatchObject({ events: logged });
    expect(logged).toBe(4);
  });

  it('attributes anonymous events earlier in the same batch', async () => {
    const site = await newSite();
    await collect({
      site: site.siteKey,
      events: [
        browserEvent('anon-2', 'page_view', { url: `${ORIGIN}/pricing` }),
        browserEvent('anon-2', 'identify', { traits: { email: 'dan@initech.io' } }),
        browserEvent('anon-2', 'page_view', { url: `${ORIGIN}/about` }),
      ],
    });
    expect((await leadByEmail(site, 'dan@initech.io'))?.scores.activity).toBe(25);
  });

  it('keeps a visitor\'s anonymous past with the lead it first identified as, when it identifies as another', async () => {
    const site = await newSite();
    const t = Date.now() - 60_000;
    const view = (path: string, ts: number) => browserEvent('shared', 'page_view', { url: `${ORIGIN}${path}`, ts });
    await collect({ site: site.siteKey, events: [view('/pricing', t), view('/references', t + 1000)] });
    await collect({ site: site.siteKey, events: [browserEvent('shared', 'identify', { traits: { email: 'ida@acme.io' }, ts: t + 2000 })] });
    await collect({ site: site.siteKey, events: [view('/contact', t + 3000)] });
    // The two page views from before it identified stay stored as they came, without a lead.
    expect(await env.DB.prepare('SELECT count(*) AS n FROM events WHERE site_id = ? AND lead_id IS NULL').bind(site.id).first('n')).toBe(2);
    const ida = (await leadByEmail(site, 'ida@acme.io'))!;
    const eventsOf = (lead: LeadJson) => lead.timeline.filter((e) => e.kind === 'event').map((e) => e.type);
    expect(eventsOf(ida)).toEqual(['page_view', 'identify', 'page_view', 'page_view']);

    // A shared computer: someone else identifies on the same browser.
    await collect({ site: site.siteKey, events: [browserEvent('shared', 'identify', { traits: { email: 'jo@acme.io' }, ts: t + 4000 })] });
    await collect({ site: site.siteKey, events: [view('/pricing', t + 5000)] });
    const count = (email: string) =>
      env.DB.prepare(`SELECT l.event_count AS counted, (SELECT count(*) FROM ${leadLogOf('l.id')}) AS logged FROM leads AS l WHERE l.site_id = ? AND l.email = ?`)
        .bind(site.id, email)
        .first();
    expect(await count('ida@acme.io')).toEqual({ counted: 4, logged: 4 });
    expect(await count('jo@acme.io')).toEqual({ counted: 2, logged: 2 });
    // Ida's part of the browser's past is now stored with her id, since the browser is Jo's.
    expect(await env.DB.prepare('SELECT count(*) AS n FROM events WHERE site_id = ? AND lead_id = ?').bind(site.id, ida.id).first('n')).toBe(4);
    expect(eventsOf((await leadByEmail(site, 'ida@acme.io'))!)).toEqual(eventsOf(ida));
    expect(eventsOf((await leadByEmail(site, 'jo@acme.io'))!)).toEqual(['page_view', 'identify']);
    expect((await leadByEmail(site, 'ida@acme.io'))!.scores).toEqual(ida.scores);
  });

  it("puts a visitor's past in its lead's timeline by time, whatever side of the identify the browser's clock put it", async () => {
    const site = await newSite();
    const t = Date.now() - 60_000;
    // Sent first, but stamped after the identify by a browser whose clock moved.
    await collect({ site: site.siteKey, events: [browserEvent('skew', 'page_view', { url: `${ORIGIN}/pricing`, ts: t + 10_000 })] });
    await collect({ site: site.siteKey, events: [browserEvent('skew', 'identify', { traits: { email: 'kay@acme.io' }, ts: t })] });
    const kay = (await leadByEmail(site, 'kay@acme.io'))!;
    expect(kay.timeline.filter((e) => e.kind === 'event').map((e) => e.type)).toEqual(['page_view', 'identify']);
    // Past the timeline's 200 events, the latest of both runs of the log are the ones shown.
    await fillHistory(kay.id, 250, t - 300 * 3_600_000);
    const long = (await leadByEmail(site, 'kay@acme.io'))!.timeline.filter((e) => e.kind === 'event');
    expect(long).toHaveLength(200);
    expect(long.slice(0, 2).map((e) => e.type)).toEqual(['page_view', 'identify']);
  });

  it('merges two visitors with the same e-mail into one lead', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [browserEvent('laptop', 'page_view', { url: `${ORIGIN}/pricing` })] });
    await collect({ site: site.siteKey, events: [browserEvent('phone', 'page_view', { url: `${ORIGIN}/references` })] });
    await collect({ site: site.siteKey, events: [browserEvent('laptop', 'identify', { traits: { email: 'eve@hooli.io' } })] });
    await collect({ site: site.siteKey, events: [browserEvent('phone', 'identify', { traits: { email: 'EVE@hooli.io ' } })] });
    await collect({ site: site.siteKey, events: [browserEvent('phone', 'page_view', { url: `${ORIGIN}/` })] });
    expect(await rowCounts(site.id)).toMatchObject({ leads: 1, visitors: 2, events: 5 });
    const lead = await leadByEmail(site, 'eve@hooli.io');
    expect(lead?.scores.activity).toBe(20 + 15 + 5);
  });

  it('keeps scores right when requests for one lead race each other', async () => {
    const site = await newSite();
    await collect({ site: site.siteKey, events: [browserEvent('racer', 'identify', { traits: { email: 'fay@umbrella.io' } })] });
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        collect({ site: site.siteKey, events: [browserEvent('racer', 'page_view', { url: `${ORIGIN}/p${i}` })] }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(12).fill(202));
    const lead = await leadByEmail(site, 'fay@umbrella.io');
    expect(lead?.scores.activity).toBe(60);
    const row = await env.DB.prepare('SELECT event_count FROM leads WHERE id = ?').bind(lead!.id).first<{ event_count: number }>();
    expect(row?.event_count).toBe(13);
  });

  it("leaves no event of a visitor out of its lead when the visitor's anonymous request races its identifying one", async () => {
    // A click on a download and a form sent at once: two requests of one browser, one anonymous.
    const site = await newSite();
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await collect({ site: site.siteKey, events: [browserEvent(`racer-${i}`, 'page_view', { url: `${ORIGIN}/contact` })] });
        await Promise.all([
          collect({ site: site.siteKey, events: [browserEvent(`racer-${i}`, 'download', { url: `${ORIGIN}/paper.pdf`, contentType: 'white_paper' })] }),
          collect({ site: site.siteKey, events: [browserEvent(`racer-${i}`, 'identify', { traits: { email: `racer${i}@initech.io` } })] }),
        ]);
      }),
    );
    const { results } = await env.DB.prepare(
      `SELECT l.email, l.event_count AS counted, (SELECT count(*) FROM ${leadLogOf('l.id')}) AS attributed,
              (SELECT count(*) FROM events AS e WHERE e.site_id = l.site_id AND e.visitor_id = replace(substr(l.email, 1, instr(l.email, '@') - 1), 'racer', 'racer-')) AS sent
       FROM leads AS l WHERE l.site_id = ?`,
    )
      .bind(site.id)
      .all<{ email: string; counted: number; attributed: number; sent: number }>();
    expect(results).toHaveLength(20);
    expect(results.filter((r) => r.counted !== 3 || r.attributed !== 3 || r.sent !== 3)).toEqual([]);
  });

  it("redoes a write whose visitor's anonymity changed between its read and its write (the visitor guard)", async () => {
    const site = await newSite();
    const context = (await siteBySiteKey(database(env.DB), site.siteKey))!;
    const read = (d1: D1Database, event: ReturnType<typeof browserEvent>) => ingest(d1, context, [WireEvent.parse(event)], Date.now(), { recall: false });
    const attributed = async (email: string) =>
      (await env.DB.prepare(`SELECT l.event_count AS counted, (SELECT count(*) FROM ${leadLogOf('l.id')}) AS stored FROM leads AS l WHERE l.site_id = ? AND l.email = ?`)
        .bind(site.id, email)
        .first<{ counted: number; stored: number }>())!;

    // A page view read as anonymous, its visitor identified before it is written: written anonymous,
    // it would stay out of the lead for good.
    await collect({ site: site.siteKey, events: [browserEvent('gv-1', 'page_view', { url: `${ORIGIN}/` })] });
    const view = browserEvent('gv-1', 'page_view', { url: `${ORIGIN}/pricing` });
    const identifiedMeanwhile = betweenReadAndWrite(() => collect({ site: site.siteKey, events: [browserEvent('gv-1', 'identify', { traits: { email: 'gv1@initech.io' } })] }));
    expect((await read(identifiedMeanwhile, view)).accepted).toEqual([view.id]);
    expect(await env.DB.prepare('SELECT lead_id IS NOT NULL AS attributed FROM events WHERE site_id = ? AND id = ?').bind(site.id, view.id).first('attributed')).toBe(1);
    expect(await attributed('gv1@initech.io')).toEqual({ counted: 3, stored: 3 });

    // An identify that read the visitor's anonymous past, which grew before it was written: the new
    // page view would be handed to the lead unscored.
    await collect({ site: site.siteKey, events: [browserEvent('gv-2', 'page_view', { url: `${ORIGIN}/` })] });
    const identify = browserEvent('gv-2', 'identify', { traits: { email: 'gv2@initech.io' } });
    const viewedMeanwhile = betweenReadAndWrite(() => collect({ site: site.siteKey, events: [browserEvent('gv-2', 'page_view', { url: `${ORIGIN}/pricing` })] }));
    expect((await read(viewedMeanwhile, identify)).accepted).toEqual([identify.id]);
    expect(await attributed('gv2@initech.io')).toEqual({ counted: 3, stored: 3 });

    // The same for a visitor whose first page view lands then: the read found no row of it at all.
    const first = browserEvent('gv-3', 'identify', { traits: { email: 'gv3@initech.io' } });
    const firstViewMeanwhile = betweenReadAndWrite(() => collect({ site: site.siteKey, events: [browserEvent('gv-3', 'page_view', { url: `${ORIGIN}/pricing` })] }));
    expect((await read(firstViewMeanwhile, first)).accepted).toEqual([first.id]);
    expect(await attributed('gv3@initech.io')).toEqual({ counted: 2, stored: 2 });
  });
  it('gives up with a 503 after 12 attempts on a lead that every other request changes, and writes nothing', async () => {
    const site = await newSite();
    const context = (await siteBySiteKey(database(env.DB), site.siteKey))!;
    await collect({ site: site.siteKey, events: [browserEvent('busy', 'identify', { traits: { email: 'busy@initech.io' } })] });
    const before = await rowCounts(site.id);
    // Another writer moves the lead before each batch: every write finds its rev changed.
    const busy = busyD1('UPDATE leads SET rev = rev + 1 WHERE site_id = ?', site.id);
    const view = WireEvent.parse(browserEvent('busy', 'page_view', { url: `${ORIGIN}/pricing` }));
    const refused = await ingest(busy.d1, context, [view], Date.now(), { recall: false }).catch((err: unknown) => err);
    expect(refused).toMatchObject({ status: 503, code: 'write_conflict' });
    expect(busy.conflicts()).toBe(12);
    expect(await rowCounts(site.id)).toEqual(before);
  });
});

