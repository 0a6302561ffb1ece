/**
 * Ingest on the anonymous guess (worker/ingest/anonymous-guess.ts): a browser's request whose
 * visitor the isolate does not recall is written at once as an anonymous human's, D1 advancing the
 * visitor's pace, and a guess that does not hold — the visitor has a lead, is a robot or becomes
 * one — writes nothing and reads the visitor and its lead instead, from which the next round trip
 * writes; an event sent before fails the batch, which is redone from a read. Either way what is
 * stored is what the read path stores.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import worker from '../../worker/index';
import { advancePace, MAX_PAGE_VIEWS, PACE_WINDOW_MS, paceStepSql } from '../../worker/ingest/pace';
import { recall } from '../../worker/ingest/recall';
import { browserEvent, BROWSER_UA, leadByEmail, newSite, ORIGIN, rowCounts, siteState, type TestSite } from './helpers';

/**
 * Collect with D1 metered, as by an isolate that served the site but not these visitors (unless
 * `keep`: the one that wrote them last), or with `INGEST_RECALL=off`.
 */
async function send(site: TestSite, events: { visitor?: string }[], { read = false, keep = false } = {}) {
  if (!keep) recall.forget(site.id, events.flatMap((e) => (e.visitor ? [e.visitor] : [])), []);
  const request = new Request('https://leadscore.test/v1/collect', {
    method: 'POST',
    headers: { origin: ORIGIN, 'user-agent': BROWSER_UA },
    body: JSON.stringify({ site: site.siteKey, events }),
  });
  const vars = { D1_METERING: 'on', ...(read ? { INGEST_RECALL: 'off' } : {}) };
  const res = await worker.fetch(request, { ...env, ...vars }, createExecutionContext());
  expect(res.status).toBe(202);
  const [, read_, written, trips] = /^read=(\d+),written=(\d+),roundtrips=(\d+)$/.exec(res.headers.get('leadscore-d1-rows')!)!.map(Number);
  const statements = res.headers.get('leadscore-d1-statements')!.split(' | ');
  return { body: (await res.json()) as { accepted: string[]; duplicates: string[]; robot?: { ignored: string[] } }, read: read_!, written: written!, trips: trips!, statements };
}

const visitorRow = (site: TestSite, id: string) =>
  env.DB.prepare('SELECT lead_id, first_seen, last_seen, pace_start, pace_count, robot_since FROM visitors WHERE site_id = ? AND id = ?').bind(site.id, id).first();

const view = (visitor: string, path: string, ts?: number) => browserEvent(visitor, 'page_view', { url: `${ORIGIN}${path}`, ...(ts === undefined ? {} : { ts }) });

/** The site's shapes known once, as on a site live for a while, and the isolate's site lookup made. */
async function warmSite() {
  const site = await newSite();
  await send(site, ['/', '/pricing', '/blog/a'].map((p) => view('warm', p)), { read: true });
  return site;
}

describe('ingest on the anonymous guess', () => {
  it("writes an anonymous visitor's page view in one round trip wherever it lands, and stores what a read would have", async () => {
    const [guessed, read] = [await warmSite(), await warmSite()];
    const t0 = Date.now() - 30 * 60_000;
    // A visit of five pages, each request landing on an isolate that never saw the visitor: the
    // third starts a new pace window, the fourth was sent late (before the window).
    const times = [t0, t0 + 60_000, t0 + PACE_WINDOW_MS + 1, t0 + 2 * 60_000, t0 + PACE_WINDOW_MS + 5_000];
    const paths = ['/', '/pricing', '/blog/a', '/', '/pricing'];
    for (const [i, ts] of times.entries()) {
      const g = await send(guessed, [view('ag', paths[i]!, ts)]);
      expect(g.trips).toBe(1);
      // Rows read: the event's shape by key, the visitor's row by the events' condition and by the
      // read that follows (none for a new visitor, at the first), the upsert's own. The upsert
      // takes the guess from the events' insert (`guessHeld`): testing it again read 2 rows more.
      expect(g.read).toBe(i === 0 ? 4 : 6);
      expect(g.written).toBe(3);
      expect(g.statements[0]).toMatch(/^insert events \d\/2, insert visitors \d\/1, select visitors \d\/0$/);
      const r = await send(read, [view('ag', paths[i]!, ts)], { read: true });
      expect(r.trips).toBe(2);
    }
    const [g, r] = [await visitorRow(guessed, 'ag'), await visitorRow(read, 'ag')];
    expect(g).toEqual(r);
    expect(g).toMatchObject({ pace_start: times[2], pace_count: 2, first_seen: t0, last_seen: times[4] });
    expect(await rowCounts(guessed.id)).toEqual(await rowCounts(read.id));
  });

  it('recalls the visitor it wrote on a guess: its next event is written on what D1 sent back', async () => {
    const site = await warmSite();
    await send(site, [view('ar', '/')]);
    const next = await send(site, [view('ar', '/pricing')], { keep: true });
    expect(next.trips).toBe(1);
    // Checked against the row as recalled, not guessed: by the events' insert, which reads the
    // visitor's row and the page's shape, the check folded in rather than a statement of its own.
    expect(next.statements[0]).toMatch(/^insert events 2\/2, insert visitors \d\/1$/);
    expect(await visitorRow(site, 'ar')).toMatchObject({ pace_count: 2 });
  });

  it("writes nothing on the guess for a lead's visitor, and scores the event in the next round trip from what it read", async () => {
    const [guessed, read] = [await warmSite(), await warmSite()];
    for (const site of [guessed, read]) {
      await send(site, [browserEvent('al', 'identify', { traits: { email: 'ada@acme.io', jobTitle: 'CMO' } })], { read: true });
    }
    const g = await send(guessed, [view('al', '/pricing')]);
    // The guessed batch, which wrote nothing and read the visitor with its lead; the write.
    expect(g.trips).toBe(2);
    expect(g.statements[0]).toMatch(/^insert events \d\/0, insert visitors \d\/0, select visitors \d\/0$/);
    // Written as after a read, the guessed batch having read the visitor and its lead a moment
    // before, under the site's model: the lead's rev alone is checked (by its UPDATE), not the
    // visitor's row and the model again as for a memory of unknown age (2 rows read more). The
    // visitor is neither anonymous nor identified here: no visitor guard.
    // The UPDATE's check rides on the event's insert, unless a transition comes between them.
    expect(g.statements[1]).toMatch(/^update leads \d+\/[1-9]\d*, (insert write_conflicts 0\/0, (insert segment_histograms \d+\/\d+, )?insert transitions \d+\/\d+, )?insert events 1\/2$/);
    expect(g.body.accepted).toHaveLength(1);
    await send(read, [view('al', '/pricing')], { read: true });
    const outcome = async (site: TestSite) => {
      const l = (await leadByEmail(site, 'ada@acme.io'))!;
      return { scores: l.scores, band: l.band, stage: l.stage };
    };
    expect(await outcome(guessed)).toEqual(await outcome(read));
    expect((await leadByEmail(guessed, 'ada@acme.io'))!.scores.activity).toBeGreaterThan(0);
    expect(await rowCounts(guessed.id)).toEqual(await rowCounts(read.id));
    // The isolate read the visitor: it recalls its lead and does not guess again.
    expect((await send(guessed, [view('al', '/')], { keep: true })).trips).toBe(1);
  });

  it('writes nothing on the guess when the page view crosses the pace limit: the read catches the robot and sets aside what it stored', async () => {
    const site = await warmSite();
    const t0 = Date.now() - 5 * 60_000;
    const crawl = Array.from({ length: MAX_PAGE_VIEWS }, (_, i) => view('ac', `/p/${i}`, t0 + i * 2000));
    expect((await send(site, crawl)).body.accepted).toHaveLength(MAX_PAGE_VIEWS);
    const before = await rowCounts(site.id);
    const last = await send(site, [view('ac', '/p/last', t0 + MAX_PAGE_VIEWS * 2000)]);
    // The guessed batch wrote nothing, its pace would cross; read, then caught.
    expect(last.trips).toBe(3);
    expect(last.statements[0]).toMatch(/^insert event_shapes \d\/\d, select event_shapes \d\/0, insert events \d\/0, insert visitors \d\/0, select visitors \d\/0$/);
    expect(last.body).toMatchObject({ accepted: [], robot: { ignored: [expect.any(String)] } });
    expect(await rowCounts(site.id)).toEqual({ ...before, events: before.events - MAX_PAGE_VIEWS });
    expect(await visitorRow(site, 'ac')).toMatchObject({ robot_since: expect.any(Number) });
    // A robot's guessed batch writes nothing either, and its events stay out.
    const again = await send(site, [view('ac', '/p/again')]);
    expect(again.body).toMatchObject({ accepted: [], robot: { ignored: [expect.any(String)] } });
    expect(await rowCounts(site.id)).toEqual({ ...before, events: before.events - MAX_PAGE_VIEWS });
  });

  it('redoes from a read a guessed batch whose event was sent before, and answers it as a duplicate without counting its page view again', async () => {
    const site = await warmSite();
    const event = view('ad', '/pricing');
    await send(site, [event]);
    const again = await send(site, [event]);
    // The guessed batch, refused by the event's key; the read, which finds it stored: nothing to write.
    expect(again.trips).toBe(2);
    expect(again.body).toMatchObject({ accepted: [], duplicates: [event.id] });
    expect(await visitorRow(site, 'ad')).toMatchObject({ pace_count: 1 });
  });

  it('does not guess for an identify, two page views of a visitor or two visitors in one request', async () => {
    const site = await warmSite();
    const t = Date.now() - 60_000;
    for (const events of [
      [browserEvent('an', 'identify', { traits: { email: 'nat@acme.io' } })],
      [view('an2', '/', t), view('an2', '/pricing', t + 1000)],
      [view('an3', '/'), view('an4', '/')],
    ]) {
      const res = await send(site, events);
      expect(res.trips).toBe(2);
      expect(res.statements[0]).toMatch(/^select events/);
    }
  });

  it('stores what the read path stores for any journey of visitors whose requests land on isolates that recall them or not', async () => {
    // Two visitors, who may identify; each request one or two events (a page view at most once per
    // request, as a browser sends), mostly within one pace window of the last, sometimes past it or
    // hours later, on the isolate that served the visitor last or on another.
    const request = fc.record({
      visitor: fc.constantFrom('v0', 'v1'),
      kind: fc.constantFrom('view', 'view', 'view', 'view+download', 'download', 'identify'),
      gapMinutes: fc.constantFrom(0, 0, 1, 2, 3, 11, 600),
      elsewhere: fc.boolean(),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 12 }), async (journey) => {
        const [guessed, read] = [await newSite(), await newSite()];
        const prefix = `j${run++}-`;
        let ts = Date.now() - 3 * 86_400_000;
        for (const { visitor: v, kind, gapMinutes, elsewhere } of journey) {
          ts += gapMinutes * 60_000 + 1000;
          const visitor = prefix + v;
          const events =
            kind === 'identify'
              ? [browserEvent(visitor, 'identify', { ts, traits: { email: `${visitor}@acme.io` } })]
              : [
                  ...(kind.startsWith('view') ? [view(visitor, `/${v}`, ts)] : []),
                  ...(kind.endsWith('download') ? [browserEvent(visitor, 'download', { ts: ts + 500, url: `${ORIGIN}/files/guide.pdf`, contentType: 'white_paper' })] : []),
                ];
          await send(guessed, events, { keep: !elsewhere });
          await send(read, events.map((e) => ({ ...e })), { read: true });
        }
        expect(await siteState(guessed.id)).toEqual(await siteState(read.id));
      }),
      { numRuns: 20 },
    );
  });

  it('advances a pace in SQL exactly as advancePace does for one page view', async () => {
    const step = paceStepSql('?1', '?2', '?3');
    const query = env.DB.prepare(`SELECT ${step.start} AS start, ${step.count} AS count`);
    const T = 1_800_000_000_000;
    const stored = fc.oneof(
      fc.constant({ start: null, count: 0 }),
      fc.record({ start: fc.integer({ min: T - 3 * PACE_WINDOW_MS, max: T + 3 * PACE_WINDOW_MS }), count: fc.integer({ min: 1, max: MAX_PAGE_VIEWS + 5 }) }),
    );
    const ts = fc.oneof(fc.constant(null), fc.integer({ min: T - 4 * PACE_WINDOW_MS, max: T + 4 * PACE_WINDOW_MS }));
    // Half the times at the window's edges: just before its start, at it, just before its end, at it.
    const edge = fc.constantFrom(-1, 0, 1, PACE_WINDOW_MS - 1, PACE_WINDOW_MS, PACE_WINDOW_MS + 1);
    await fc.assert(
      fc.asyncProperty(stored, ts, edge, fc.boolean(), async (pace, t, offset, atEdge) => {
        const at = atEdge && t !== null && pace.start !== null ? pace.start + offset : t;
        const sql = await query.bind(pace.start, pace.count, at).first<{ start: number | null; count: number }>();
        expect(sql).toEqual(advancePace(pace, at === null ? [] : [at]).pace);
      }),
      { numRuns: 300 },
    );
  });
});
