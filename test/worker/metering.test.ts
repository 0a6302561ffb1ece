import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../worker/index';
import { HISTORY_MAX } from '../../worker/db/lead-history';
import { shapeCache } from '../../worker/db/shape-cache';
import { recall } from '../../worker/ingest/recall';
import { BUCKET } from '../../worker/segments/buckets';
import { browserEvent, BROWSER_UA, collect, fillHistory, leadByEmail, newSite, ORIGIN, rowCounts, type TestSite } from './helpers';

/** Collect with `D1_METERING=on`, as `bench/cost.js` runs the worker (`read`: and `INGEST_RECALL=off`). */
function collectMetered(site: TestSite, events: unknown[], read = false) {
  const request = new Request('https://leadscore.test/v1/collect', {
    method: 'POST',
    headers: { origin: ORIGIN, 'user-agent': BROWSER_UA },
    body: JSON.stringify({ site: site.siteKey, events }),
  });
  return worker.fetch(request, { ...env, D1_METERING: 'on', ...(read ? { INGEST_RECALL: 'off' } : {}) }, createExecutionContext());
}

const rowsHeader = (res: Response) => {
  const m = /^read=(\d+),written=(\d+),roundtrips=(\d+)$/.exec(res.headers.get('leadscore-d1-rows') ?? '');
  return m && { read: Number(m[1]), written: Number(m[2]), roundTrips: Number(m[3]) };
};

/** Rows written by a request's statements of one kind (`insert events`, `insert visitors`…), summed. */
const writtenBy = (res: Response, label: string) =>
  [...res.headers.get('leadscore-d1-statements')!.matchAll(new RegExp(`${label} \\d+/(\\d+)`, 'g'))].reduce((n, m) => n + Number(m[1]), 0);

/**
 * The statements of a read-first request's read batch, in their order: the event ids stored, the
 * visitors with their leads, the model, the shapes; then, for a batch that names them, the leads
 * named by e-mail and the anonymous events an identify attributes.
 */
const readBatchOf = (res: Response) => {
  const batch = res.headers.get('leadscore-d1-statements')!.split(' | ').find((b) => b.includes('select models'))!;
  return [...batch.matchAll(/(\w+ \w+) (\d+)\/(\d+)/g)].map((m) => ({ statement: m[1]!, read: Number(m[2]), written: Number(m[3]) }));
};

describe('D1 metering (D1_METERING=on)', () => {
  it('answers what a collect request read and wrote, statement by statement, and stores what it would unmetered', async () => {
    const [metered, plain] = [await newSite(), await newSite()];
    const journey = () => [
      [browserEvent('mv', 'page_view', { url: `${ORIGIN}/pricing` })],
      [browserEvent('mv', 'identify', { traits: { email: 'meg@acme.io', jobTitle: 'Head of Marketing' } })],
      [browserEvent('mv', 'page_view', { url: `${ORIGIN}/pricing` }), browserEvent('mv', 'download', { url: `${ORIGIN}/a.pdf`, contentType: 'white_paper' })],
    ];
    for (const [i, events] of journey().entries()) {
      const res = await collectMetered(metered, events);
      expect(res.status).toBe(202);
      const rows = rowsHeader(res)!;
      // The site by its key on the first request only (then the isolate holds it); the first page
      // view is guessed anonymous (see `ingest`), the write batch alone; the identify is read,
      // then written; the last request's visitor and lead are recalled (see `ingest/recall`): the
      // write batch alone.
      const trips = [2, 2, 1][i]!;
      expect(rows.roundTrips).toBe(trips);
      expect(rows.read).toBeGreaterThan(0);
      expect(rows.written).toBeGreaterThan(0);
      const statements = res.headers.get('leadscore-d1-statements')!.split(' | ');
      expect(statements).toHaveLength(trips);
      if (i === 0) expect(statements[0]).toMatch(/^select sites \d+\/0$/);
      expect(statements.at(-1)).toMatch(/insert events \d+\/[1-9]/);
      // The header's sums are the statements' own.
      const each = [...statements.join(', ').matchAll(/ (\d+)\/(\d+)/g)];
      expect(each.reduce((n, m) => n + Number(m[1]), 0)).toBe(rows.read);
      expect(each.reduce((n, m) => n + Number(m[2]), 0)).toBe(rows.written);

      expect((await collect({ site: plain.siteKey, events })).status).toBe(202);
    }
    expect(await rowCounts(metered.id)).toEqual(await rowCounts(plain.id));
    const outcome = (l: Awaited<ReturnType<typeof leadByEmail>>) => l && { scores: l.scores, band: l.band, stage: l.stage, profile: l.profile };
    expect(outcome(await leadByEmail(metered, 'meg@acme.io'))).toEqual(outcome(await leadByEmail(plain, 'meg@acme.io')));
  });

  it("reads as many rows for a lead's page view whatever the number of the site's other leads", async () => {
    const site = await newSite();
    await collectMetered(site, [browserEvent('nv', 'identify', { traits: { email: 'ned@acme.io' } })]);
    const view = async () => {
      // Read (the isolate that recalls the lead reads nothing).
      const res = await collectMetered(site, [browserEvent('nv', 'page_view', { url: `${ORIGIN}/pricing` })], true);
      return { read: rowsHeader(res)!.read, leads: readBatchOf(res)[1]!.read };
    };
    const alone = await view();
    // Leads whose ids sort on both sides of Ned's, as a site's leads would.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 599)
       INSERT INTO leads (id, site_id, email, profile) SELECT printf('ld_%s%04d', CASE WHEN i % 2 THEN 'a' ELSE 'z' END, i), ?, printf('other%d@acme.io', i), '{}' FROM n`,
    )
      .bind(site.id)
      .run();
    // The lead is found by its index, not among the site's leads: 600 more would be some 1,200
    // rows more. The rest moves by a few rows: the history holds one event more, the band moved.
    const crowded = await view();
    expect(crowded.leads).toBe(alone.leads);
    expect(crowded.read - alone.read).toBeLessThan(30);
  });

  it("reads as many rows for a lead's page view whatever the length of the lead's history", async () => {
    const site = await newSite();
    await collectMetered(site, [browserEvent('hv', 'identify', { traits: { email: 'hal@acme.io' } })]);
    // What the read batch read: the lead, its visitor, its history…
    const view = async () => {
      const res = await collectMetered(site, [browserEvent('hv', 'page_view', { url: `${ORIGIN}/pricing` })], true);
      return { roundTrips: rowsHeader(res)!.roundTrips, read: readBatchOf(res).reduce((n, st) => n + st.read, 0) };
    };
    await view(); // the page's shape is new once
    const short = await view();
    // 500 more events over the past months, a page view an hour (no robot's pace): the history is
    // read from the lead's row, one row whatever its length, not event by event.
    const start = Date.now() - 600 * 3_600_000;
    for (let i = 0; i < 500; i += 100) {
      const events = Array.from({ length: 100 }, (_, k) => browserEvent('hv', 'page_view', { ts: start + (i + k) * 3_600_000, url: `${ORIGIN}/blog/${(i + k) % 7}` }));
      expect((await collectMetered(site, events)).status).toBe(202);
    }
    const long = await view();
    expect(await env.DB.prepare("SELECT event_count FROM leads WHERE email = 'hal@acme.io'").first('event_count')).toBe(504);
    expect(long).toEqual(short);
  });

  it("keeps in the isolate the shapes a lead's history names, once read: the next request reads none", async () => {
    const site = await newSite();
    await collectMetered(site, [browserEvent('sc', 'identify', { traits: { email: 'sam@acme.io' } }), browserEvent('sc', 'page_view', { url: `${ORIGIN}/pricing` })]);
    // An isolate that never met them.
    shapeCache.clear();
    const view = async () => rowsHeader(await collectMetered(site, [browserEvent('sc', 'page_view', { url: `${ORIGIN}/pricing` })], true))!.roundTrips;
    // The read batch, the shapes of the lead's history, the write; then the read batch and the write.
    expect(await view()).toBe(3);
    expect(await view()).toBe(2);
  });

  it("learns from its first write the ids of the shapes D1 holds already: an isolate new to a site's pages inserts none of them again", async () => {
    const site = await newSite();
    const url = `${ORIGIN}/pricing`;
    await collectMetered(site, [browserEvent('ol', 'identify', { traits: { email: 'ola@acme.io' } }), browserEvent('ol', 'page_view', { url })]);
    // Another isolate, which knows neither the visitors nor the shapes: D1 holds them.
    recall.clear();
    shapeCache.clear();
    const view = async (visitor: string) => {
      const res = await collectMetered(site, [browserEvent(visitor, 'page_view', { url })]);
      expect(res.status).toBe(202);
      return { statements: res.headers.get('leadscore-d1-statements')!, read: rowsHeader(res)!.read };
    };
    // A visitor's first page view inserts the page's shape, which is there already, and reads its id.
    expect((await view('an')).statements).toMatch(/^insert event_shapes \d+\/0, select event_shapes 1\/0, /);
    // Known from then on: a lead's first page view on this isolate inserts it no more.
    expect((await view('ol')).statements).not.toContain('insert event_shapes');
    // Their next ones insert no shape: the anonymous visitor's event and its row; the lead's row, the
    // event, its shape id in the lead's history, found by the same number of rows every time.
    let readsChecked = 0;
    for (let i = 0; i < 3; i++) {
      expect((await view('an')).statements).toMatch(/^insert events \d\/2, insert visitors \d\/1$/);
      const lead = await view('ol');
      expect(lead.statements).toMatch(/^update leads 1\/\d(, .*)?, insert events 3\/2$/);
      expect(lead.statements).not.toContain('event_shapes');
      // A band change reads its counter and the site's newest change besides.
      if (lead.statements.includes('transitions')) continue;
      expect(lead.read).toBe(4);
      readsChecked++;
    }
    expect(readsChecked).toBeGreaterThan(0);
  });

  it('reads one row more a page of history for a lead of thousands of events, not one an event', async () => {
    const site = await newSite();
    await collectMetered(site, [browserEvent('pg', 'identify', { traits: { email: 'pia@acme.io' } }), browserEvent('pg', 'page_view', { url: `${ORIGIN}/pricing` })]);
    const view = async () => {
      const res = await collectMetered(site, [browserEvent('pg', 'page_view', { url: `${ORIGIN}/pricing` })], true);
      expect(res.status).toBe(202);
      const pages = /select lead_history_pages (\d+)\/0/.exec(res.headers.get('leadscore-d1-statements')!);
      return { readBatch: readBatchOf(res).reduce((n, st) => n + st.read, 0), pages: pages ? Number(pages[1]) : 0, roundTrips: rowsHeader(res)!.roundTrips };
    };
    const short = await view();
    expect(short.pages).toBe(0);
    const lead = (await leadByEmail(site, 'pia@acme.io'))!;
    await fillHistory(lead.id, 2 * HISTORY_MAX, Date.now() - (2 * HISTORY_MAX + 10) * 3_600_000);
    await view(); // pages the row's events
    expect(await env.DB.prepare('SELECT history_pages FROM leads WHERE id = ?').bind(lead.id).first('history_pages')).toBe(2);
    // The pages are read once the lead's row says it has some: a round trip more and a row a page,
    // where the log's 10,000 events and their index entries were read before.
    expect(await view()).toEqual({ readBatch: short.readBatch, pages: 2, roundTrips: short.roundTrips + 1 });
    // On the isolate that wrote it last, the lead is recalled, pages and all: its next page view is
    // the write alone, and reads what a lead of a few events does.
    const pageView = () => collectMetered(site, [browserEvent('pg', 'page_view', { url: `${ORIGIN}/pricing` })]);
    await pageView();
    const recalled = rowsHeader(await pageView())!;
    expect(recalled.roundTrips).toBe(1);
    expect(recalled.read).toBeLessThanOrEqual(5);
  });

  it("writes an event as 2 rows, anonymous or a lead's, a duplicate as none, its visitor as 1 (none once it is a lead's), and 4 rows an event or fewer in batches", async () => {
    const site = await newSite();
    const url = `${ORIGIN}/pricing`;
    // The page's shape is new once, a statement of its own.
    expect((await collectMetered(site, [browserEvent('rw-0', 'page_view', { url })])).status).toBe(202);
    // A new visitor's anonymous page view: the event's row (its key is the dedupe) and its entry in
    // the index of anonymous events (the lead index holds attributed events only); the visitor's row.
    const first = [browserEvent('rw', 'page_view', { url })];
    let res = await collectMetered(site, first);
    expect([writtenBy(res, 'insert events'), writtenBy(res, 'insert visitors'), rowsHeader(res)!.written]).toEqual([2, 1, 3]);
    // The same batch again is found by the key and writes nothing.
    res = await collectMetered(site, first);
    expect(await res.json()).toMatchObject({ accepted: [], duplicates: [first[0]!.id] });
    expect(rowsHeader(res)!.written).toBe(0);
    // The visitor returning: its row rewritten, nothing else of it.
    res = await collectMetered(site, [browserEvent('rw', 'page_view', { url })]);
    expect([writtenBy(res, 'insert events'), writtenBy(res, 'insert visitors'), rowsHeader(res)!.written]).toEqual([2, 1, 3]);
    // Identified: the visitor's row and its entry in the lead index.
    res = await collectMetered(site, [browserEvent('rw', 'identify', { traits: { email: 'rowan@acme.io' } })]);
    expect(writtenBy(res, 'insert visitors')).toBe(2);
    // A lead's event: the row and its (lead, time) entry. The visitor's row stays as it is: its lead's
    // history paces it.
    res = await collectMetered(site, [browserEvent('rw', 'page_view', { url })]);
    expect([writtenBy(res, 'insert events'), writtenBy(res, 'insert visitors')]).toEqual([2, 0]);
    // Batches of 10, a minute apart (no robot's pace): the events, the visitor, the lead and its
    // counters and changes, at most 4 rows an event.
    const tenOf = (visitor: string) => Array.from({ length: 10 }, (_, i) => browserEvent(visitor, 'page_view', { ts: Date.now() - (10 - i) * 60_000, url }));
    res = await collectMetered(site, tenOf('rw-anonymous'));
    expect([writtenBy(res, 'insert events'), rowsHeader(res)!.written]).toEqual([20, 21]);
    res = await collectMetered(site, tenOf('rw'));
    expect(writtenBy(res, 'insert events')).toBe(20);
    expect(rowsHeader(res)!.written).toBeLessThanOrEqual(40);
    // Ten more, its band kept: the lead's UPDATE, then the first insert of events carries its check
    // and the recalled state's beside its 8 rows (96 bound values), the second the other 2 rows.
    res = await collectMetered(site, tenOf('rw'));
    expect(res.headers.get('leadscore-d1-statements')).toBe('update leads 1/1, insert events 10/16, insert events 2/4');
  });

  it("reads 4 rows for a lead's page view the isolate recalls and writes 4, its score changing bucket or not: each statement binds its one visitor and lead", async () => {
    const site = await newSite();
    const t = Date.now() - 86_400_000;
    await collectMetered(site, [browserEvent('rl', 'identify', { traits: { email: 'rl@acme.io' }, ts: t })]);
    // The page's shape is new once.
    await collectMetered(site, [browserEvent('rl', 'page_view', { url: `${ORIGIN}/pricing`, ts: t + 1000 })]);
    const scoreNow = async () => (await env.DB.prepare(`SELECT score FROM leads WHERE email = 'rl@acme.io' AND site_id = ?`).bind(site.id).first<number>('score'))!;
    let bandChanges = 0;
    let bucketMoves = 0;
    for (let i = 1; i <= 8; i++) {
      const before = await scoreNow();
      const res = await collectMetered(site, [browserEvent('rl', 'page_view', { url: `${ORIGIN}/pricing`, ts: t + i * 120_000 })]);
      const rows = rowsHeader(res)!;
      const statements = res.headers.get('leadscore-d1-statements')!;
      // Two statements: the lead's UPDATE at the rev read (1 row read), and the event's insert,
      // which carries the checks: the UPDATE wrote the lead, the visitor is as recalled and no model
      // was saved since (2), the event's shape (1). A band change writes its counter and a
      // transition, after which the UPDATE's check is a statement of its own.
      expect(statements).toMatch(/^update leads 1\/\d(, insert write_conflicts 0\/0, insert segment_histograms \d\/\d, insert transitions \d\/\d)?, insert events 3\/2$/);
      if (statements.includes('transitions')) {
        bandChanges++;
        continue;
      }
      if (Math.floor((await scoreNow()) / BUCKET) !== Math.floor(before / BUCKET)) bucketMoves++;
      // An upsert's row is counted written, not read.
      expect(rows).toMatchObject({ roundTrips: 1, read: 4 });
      // Written: the event and its (lead, time) entry, the lead's row and its (band, score) entry.
      // The score histogram is recounted when read (see `segments/histogram`): a score crossing a
      // bucket writes no counter. The lead's next change moves later and the stored one stands (see
      // `nextWake`): its index is left alone. The visitor's row is not written: its lead's
      // history paces it.
      expect(statements).toContain('update leads 1/2');
      expect(rows.written).toBe(4);
    }
    expect(bandChanges).toBeLessThan(3);
    expect(bucketMoves).toBeGreaterThan(0);
  });

  it("reads 5 rows for a lead's page view read first: its visitor and its lead in one statement, the page's shape, the lead's row (its rev checked by the UPDATE), the event's key", async () => {
    const site = await newSite();
    await collectMetered(site, [browserEvent('fl', 'identify', { traits: { email: 'fl@acme.io' } })]);
    // The page's shape is new once.
    await collectMetered(site, [browserEvent('fl', 'page_view', { url: `${ORIGIN}/pricing` })], true);
    for (let i = 0; i < 4; i++) {
      const res = await collectMetered(site, [browserEvent('fl', 'page_view', { url: `${ORIGIN}/pricing` })], true);
      const rows = rowsHeader(res)!;
      const statements = res.headers.get('leadscore-d1-statements')!;
      // No e-mail and nothing to attribute (no identify): no statement for a lead by e-mail nor for
      // anonymous events, and no visitor guard, its visitor being neither anonymous nor identified.
      expect(readBatchOf(res)).toEqual([
        { statement: 'select events', read: 0, written: 0 },
        { statement: 'select visitors', read: 2, written: 0 },
        { statement: 'select models', read: 0, written: 0 },
        { statement: 'select event_shapes', read: 1, written: 0 },
      ]);
      // The write: the lead's UPDATE, and the event's insert carrying the UPDATE's check, unless a
      // band change puts its counter and transition between them.
      expect(statements).toMatch(/ \| update leads 1\/\d, (insert write_conflicts 0\/0, (insert segment_histograms \d+\/\d+, )?insert transitions \d+\/\d+, )?insert events 1\/2$/);
      if (statements.includes('transitions')) continue;
      expect(rows).toMatchObject({ roundTrips: 2, read: 5 });
    }
  });

  it('reads a value a read looks up once, bound as it is, where an element of a JSON parameter read it twice (up to 40 values)', async () => {
    const site = await newSite();
    await collectMetered(site, [browserEvent('ten', 'identify', { traits: { email: 'ten@acme.io' } })]);
    const pages = ['/pricing', '/references', '/contact', '/', '/blog'];
    // Every shape stored once, so that the batches find each one they look up.
    await collectMetered(site, pages.map((page) => browserEvent('ten', 'page_view', { url: `${ORIGIN}${page}` })), true);
    const batch = async (n: number) => {
      const res = await collectMetered(site, Array.from({ length: n }, (_, i) => browserEvent('ten', 'page_view', { url: `${ORIGIN}${pages[i % pages.length]}` })), true);
      expect(res.status).toBe(202);
      return readBatchOf(res);
    };
    const one = await batch(1);
    const ten = await batch(10);
    expect(ten.map((st) => st.statement)).toEqual(one.map((st) => st.statement));
    // The batch's 10 event ids, new: a row each for the list (20 as JSON). Its 5 shapes' keys: a row
    // each for the list and one for each shape found (15 as JSON). The rest as for one event.
    const read = (rows: typeof one, statement: string) => rows.find((st) => st.statement === statement)!.read;
    expect([read(one, 'select events'), read(ten, 'select events')]).toEqual([0, 10]);
    expect([read(one, 'select event_shapes'), read(ten, 'select event_shapes')]).toEqual([1, 10]);
    const others = (rows: typeof one) => rows.filter((st) => !['select events', 'select event_shapes'].includes(st.statement));
    expect(others(ten)).toEqual(others(one));
  });

  it("reads as many rows for an identify whatever the number of the site's other events", async () => {
    const site = await newSite();
    const identify = async (visitor: string, email: string) => {
      await collectMetered(site, [browserEvent(visitor, 'page_view', { url: `${ORIGIN}/pricing` })]);
      const res = await collectMetered(site, [browserEvent(visitor, 'identify', { traits: { email } })]);
      expect(res.status).toBe(202);
      return rowsHeader(res)!.read;
    };
    await identify('iv-0', 'ivy0@acme.io'); // the shapes are new once
    const alone = await identify('iv-1', 'ivy1@acme.io');
    // 600 events of other visitors, anonymous and a lead's: the visitor's anonymous events are found
    // by their index, never by walking the site's events.
    const [shape] = (await env.DB.prepare('SELECT id FROM event_shapes WHERE site_id = ? LIMIT 1').bind(site.id).all<{ id: number }>()).results;
    const lead = await env.DB.prepare(`SELECT id FROM leads WHERE site_id = ? AND email = 'ivy0@acme.io'`).bind(site.id).first<string>('id');
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 599)
       INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, received_at)
       SELECT ?1, printf('other-%04d', i), printf('other-%d', i % 30), CASE WHEN i % 2 THEN ?2 END, ?3, i, i FROM n`,
    )
      .bind(site.id, lead, shape!.id)
      .run();
    const crowded = await identify('iv-2', 'ivy2@acme.io');
    expect(crowded - alone).toBeLessThan(30);
  });

  it("writes as many rows for an identify whatever the visitor's anonymous past, which it leaves as stored", async () => {
    const site = await newSite();
    const pages = ['/pricing', '/references', '/contact'];
    const identifyAfter = async (visitor: string, views: number) => {
      for (let i = 0; i < views; i++) await collectMetered(site, [browserEvent(visitor, 'page_view', { url: `${ORIGIN}${pages[i % pages.length]}` })]);
      const res = await collectMetered(site, [browserEvent(visitor, 'identify', { traits: { email: `${visitor}@acme.io` } })]);
      expect(res.status).toBe(202);
      return res;
    };
    await identifyAfter('pa-0', 3); // the shapes are new once
    const three = await identifyAfter('pa-3', 3);
    const twelve = await identifyAfter('pa-12', 12);
    // The past is the lead's by its visitor's link: no event rewritten, two rows apiece before.
    for (const res of [three, twelve]) expect(res.headers.get('leadscore-d1-statements')).not.toMatch(/update events/);
    expect(rowsHeader(twelve)!.written).toBe(rowsHeader(three)!.written);
    // The lead made, its band entered and counted, the identify stored, the visitor linked: 4 rows
    // or fewer for each of the 4 events it scores.
    expect(rowsHeader(three)!.written).toBeLessThanOrEqual(4 * 4);
    // And the lead counts all of it.
    const counted = (email: string) => env.DB.prepare('SELECT event_count FROM leads WHERE site_id = ? AND email = ?').bind(site.id, email).first<number>('event_count');
    expect([await counted('pa-3@acme.io'), await counted('pa-12@acme.io')]).toEqual([4, 13]);

    // Identifying again, as the same lead, reads none of that past: the visitor's row says it is had.
    const again = await collectMetered(site, [browserEvent('pa-12', 'identify', { traits: { email: 'pa-12@acme.io' } })], true);
    const [ids, past] = readBatchOf(again).filter((st) => st.statement === 'select events').map((st) => st.read);
    expect(ids).toBe(0);
    expect(past).toBeLessThanOrEqual(2); // its row, none of its 12 events
  });

  it('writes 4 rows an event or fewer for an identify whose new lead enters a band and a stage at once: a change is its row and one index entry', async () => {
    const site = await newSite();
    // The shapes are new once: an identify first, of a lead that enters no stage.
    await collectMetered(site, [browserEvent('bs-0', 'identify', { traits: { email: 'bs-0@acme.io' } })]);
    for (const path of ['/pricing', '/references', '/contact']) await collectMetered(site, [browserEvent('bs-1', 'page_view', { url: `${ORIGIN}${path}` })]);
    const traits = { email: 'bs-1@acme.io', jobTitle: 'Head of Marketing', companySize: 100, industry: 'software' };
    const res = await collectMetered(site, [browserEvent('bs-1', 'identify', { traits })]);
    expect(res.status).toBe(202);
    const lead = await env.DB.prepare('SELECT id, band, stage FROM leads WHERE site_id = ? AND email = ?').bind(site.id, traits.email).first<{ id: string; band: string; stage: string }>();
    expect(lead).toMatchObject({ band: 'hot', stage: 'mql' });
    const changes = await env.DB.prepare('SELECT type FROM transitions WHERE site_id = ? AND lead_id = ? ORDER BY seq').bind(site.id, lead!.id).all<{ type: string }>();
    expect(changes.results.map((c) => c.type)).toEqual(['lead.band_changed', 'lead.stage_changed']);
    // Each change its row and the one index that holds it (the lead's, or the stage index): no
    // sequence row, no (site, seq) index beside the key, no second index for the stage change.
    expect(writtenBy(res, 'insert transitions')).toBe(4);
    expect(rowsHeader(res)!.written).toBeLessThanOrEqual(4 * 4);
  });

  it('is off by default: no header, and a refused request is metered too when on', async () => {
    const site = await newSite();
    const res = await collect({ site: site.siteKey, events: [browserEvent('off', 'page_view')] });
    expect(res.status).toBe(202);
    expect(res.headers.get('leadscore-d1-rows')).toBeNull();

    const refused = await collectMetered({ ...site, siteKey: 'pk_unknownunknownunknown' }, [browserEvent('off', 'page_view')]);
    expect(refused.status).toBe(403);
    expect(rowsHeader(refused)).toMatchObject({ written: 0, roundTrips: 1 });
  });
});
