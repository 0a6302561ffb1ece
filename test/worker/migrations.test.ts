/** Migrations that move data: existing rows come through whole. */
import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { changesAfter } from '../../worker/changes/feed';
import { database } from '../../worker/db/client';
import { loggedEvents } from '../../worker/db/lead-events';
import { parseHistory } from '../../worker/db/lead-history';
import { leads } from '../../worker/db/schema';
import { runBatch } from '../../worker/db/statements';
import { readChunk } from '../../worker/jobs/lead-chunks';
import { exportLead } from '../../worker/leads/export';
import { salesWrites } from '../../worker/leads/sales';
import { groupBy } from '../../worker/lib/group';

/**
 * A table's form as SQLite holds it, which drizzle-kit cannot express: its `CREATE` text, its
 * indexes by name, and how many `sqlite_sequence` rows it (or its rebuild's `__new_` copy) left.
 */
async function tableForm(db: D1Database, name: string) {
  return {
    sql: await db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`).bind(name).first<string>('sql'),
    indexes: (await db.prepare(`SELECT name FROM pragma_index_list(?) ORDER BY name`).bind(name).all<{ name: string }>()).results.map((i) => i.name),
    sequenced: await db.prepare(`SELECT count(*) AS n FROM sqlite_sequence WHERE name IN (?1, '__new_' || ?1)`).bind(name).first<number>('n'),
  };
}

/** The migrations before the one named `prefix`. */
const upTo = (prefix: string) => {
  const at = env.TEST_MIGRATIONS.findIndex((m) => m.name.startsWith(prefix));
  expect(at).toBeGreaterThan(0);
  return env.TEST_MIGRATIONS.slice(0, at);
};

describe('0010_event_shapes', () => {
  it('moves what rules test of each event into shapes, one per distinct shape, and keeps every event', async () => {
    const db = env.MIGRATION_DB;
    await applyD1Migrations(db, upTo('0010_'));
    const legacy = [
      // [id, visitor, lead, type, url, content type, props]
      ['e1', 'v1', 'ld_a', 'page_view', 'https://acme.example/pricing?gclid=1', null, null],
      ['e2', 'v1', 'ld_a', 'page_view', 'https://acme.example/pricing?gclid=1', null, null],
      ['e3', 'v2', 'ld_b', 'page_view', 'https://acme.example/pricing?gclid=1', null, null],
      ['e4', 'v2', 'ld_b', 'form_submit', 'https://acme.example/demo', 'demo_request', '{"form":"demo"}'],
      // The same properties spelled with a space: one shape all the same.
      ['e5', 'v1', 'ld_a', 'form_submit', 'https://acme.example/demo', 'demo_request', '{"form": "demo"}'],
      ['e6', 'v3', null, 'download', 'https://acme.example/guide.pdf', 'white_paper', null],
    ] as const;
    await db.batch([
      db.prepare(`INSERT INTO sites (id, name, site_key, origins) VALUES ('s', 's', 'pk_s', '[]')`),
      db.prepare(`INSERT INTO leads (id, site_id, email, profile, event_count) VALUES ('ld_a', 's', 'a@acme.io', '{}', 3), ('ld_b', 's', 'b@acme.io', '{}', 2)`),
      ...legacy.map(([id, visitor, lead, type, url, ct, props], i) =>
        db
          .prepare(`INSERT INTO events (site_id, id, visitor_id, lead_id, type, ts, url, title, content_type, props, received_at) VALUES ('s', ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`)
          .bind(id, visitor, lead, type, 1000 + i, url, `title ${id}`, ct, props),
      ),
    ]);
    const before = (await db.prepare('SELECT seq, id, visitor_id, lead_id, ts, url, title, referrer, received_at FROM events ORDER BY seq').all()).results;

    // Up to the last migration that kept `seq` (0013 keys events by their id).
    await applyD1Migrations(db, upTo('0013_'));

    expect((await db.prepare('SELECT seq, id, visitor_id, lead_id, ts, url, title, referrer, received_at FROM events ORDER BY seq').all()).results).toEqual(before);
    const shapes = (await db.prepare('SELECT type, url, content_type, props FROM event_shapes ORDER BY type').all()).results;
    expect(shapes).toEqual([
      { type: 'download', url: 'https://acme.example/guide.pdf', content_type: 'white_paper', props: null },
      { type: 'form_submit', url: 'https://acme.example/demo', content_type: 'demo_request', props: '{"form":"demo"}' },
      { type: 'page_view', url: 'https://acme.example/pricing?gclid=1', content_type: null, props: null },
    ]);
    // Each event is what it was: joined back with its shape, it has its type, content type and properties.
    const whole = (
      await db
        .prepare('SELECT e.id, s.type, s.content_type, json(s.props) AS props FROM events AS e JOIN event_shapes AS s ON s.id = e.shape_id ORDER BY e.seq')
        .all()
    ).results;
    expect(whole.map((e) => [e.id, e.type, e.content_type, e.props])).toEqual(legacy.map(([id, , , type, , ct, props]) => [id, type, ct, props && JSON.stringify(JSON.parse(props))]));
    // The log's reader gets the events back with their shapes, shared across leads, and each lead's
    // packed history (0012) holds its events. (Migrations in this file apply in order on one
    // database: the chunk reader of today, which needs 0017, reads migrated rows in 0017's test.)
    const drizzle = database(db);
    const byLead = groupBy(await loggedEvents(drizzle, 's', ['ld_a', 'ld_b']), (e) => e.leadId!);
    const histories = (await db.prepare(`SELECT id, history FROM leads ORDER BY id`).all<{ id: string; history: string }>()).results;
    for (const { id, history } of histories) {
      const logged = byLead.get(id)!;
      expect(logged).toHaveLength(id === 'ld_a' ? 3 : 2);
      expect(parseHistory(history).map((e) => `${e.ts}:${e.shapeId}`).sort()).toEqual(logged.map((e) => `${e.ts}:${e.shapeId}`).sort());
    }
    expect(byLead.get('ld_b')!.find((e) => e.type === 'form_submit')).toMatchObject({ contentType: 'demo_request', props: { form: 'demo' } });
    // New events are still numbered after the old ones.
    await db.prepare(`INSERT INTO events (site_id, id, shape_id, ts, received_at) VALUES ('s', 'e7', 1, 1, 1)`).run();
    expect(await db.prepare(`SELECT seq FROM events WHERE id = 'e7'`).first('seq')).toBe(before.length + 1);
  });
});

/** Rows of every table but `table` (and the migrations' log, and the AUTOINCREMENT counters). */
async function otherRows(db: D1Database, table: string) {
  const tables = (
    await db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN (?, 'd1_migrations', 'sqlite_sequence') AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name`)
      .bind(table)
      .all<{ name: string }>()
  ).results.map((t) => t.name);
  const counts = await db.batch(tables.map((t) => db.prepare(`SELECT count(*) AS n FROM "${t}"`)));
  return Object.fromEntries(tables.map((t, i) => [t, (counts[i]!.results[0] as { n: number }).n]));
}

describe('0013_events_keyed_by_id', () => {
  const columns = 'site_id, id, visitor_id, lead_id, shape_id, ts, url, title, referrer, received_at';

  it('keys events by (id, site) WITHOUT ROWID, keeps every event, and touches no other row', async () => {
    const db = env.MIGRATION_DB;
    await applyD1Migrations(db, upTo('0013_'));
    // Two sites sharing an event id (ids are unique per site only), attributed and anonymous events,
    // and rows in the tables that reference the events' parents: none may go with the old table.
    await db.batch([
      db.prepare(`INSERT INTO sites (id, name, site_key, origins) VALUES ('m1', 'm1', 'pk_m1', '[]'), ('m2', 'm2', 'pk_m2', '[]')`),
      db.prepare(`INSERT INTO leads (id, site_id, email, profile) VALUES ('ld_m1', 'm1', 'a@acme.io', '{}'), ('ld_m2', 'm2', 'b@acme.io', '{}')`),
      db.prepare(`INSERT INTO visitors (site_id, id, lead_id, first_seen, last_seen) VALUES ('m1', 'v1', 'ld_m1', 1, 5), ('m1', 'v2', NULL, 1, 2), ('m2', 'v1', 'ld_m2', 1, 1)`),
      db.prepare(`INSERT INTO event_shapes (site_id, key, type) VALUES ('m1', '["page_view",null,null,null]', 'page_view'), ('m2', '["page_view",null,null,null]', 'page_view')`),
      db.prepare(`INSERT INTO transitions (site_id, lead_id, type, to_value, cause, at) VALUES ('m1', 'ld_m1', 'lead.band_changed', 'warm', 'event', 1)`),
      db.prepare(`INSERT INTO feedback (site_id, lead_id, fit, created_at) VALUES ('m1', 'ld_m1', 'good', 1)`),
      db.prepare(
        `INSERT INTO events (${columns}) VALUES
           ('m1', 'e1', 'v1', 'ld_m1', (SELECT id FROM event_shapes WHERE site_id = 'm1'), 3, 'https://m1.example/a', 'A', 'https://ref.example/', 10),
           ('m1', 'e2', 'v1', 'ld_m1', (SELECT id FROM event_shapes WHERE site_id = 'm1'), 1, 'https://m1.example/b', NULL, NULL, 11),
           ('m1', 'e3', 'v2', NULL, (SELECT id FROM event_shapes WHERE site_id = 'm1'), 2, NULL, NULL, NULL, 12),
           ('m2', 'e1', 'v1', 'ld_m2', (SELECT id FROM event_shapes WHERE site_id = 'm2'), 4, 'https://m2.example/', 'M2', NULL, 13)`,
      ),
    ]);
    const all = `SELECT ${columns} FROM events ORDER BY site_id, id`;
    const events = (await db.prepare(all).all()).results;
    const others = await otherRows(db, 'events');
    expect((await tableForm(db, 'events')).sequenced).toBe(1);

    await applyD1Migrations(db, upTo('0014_'));

    expect((await db.prepare(all).all()).results).toEqual(events);
    expect(await otherRows(db, 'events')).toEqual(others);
    // The table's form, which drizzle-kit cannot express: a rebuild that forgot WITHOUT ROWID would
    // bring back a rowid and a unique index beside it, two rows written more per event; a key led by
    // site_id would have SQLite walk a site's events for a visitor's (see worker/db/schema.ts).
    const form = await tableForm(db, 'events');
    expect(form.sql).toMatch(/PRIMARY KEY\(`id`, `site_id`\)[\s\S]*\) WITHOUT ROWID$/);
    expect(form.indexes).toEqual(['events_lead_ts', 'events_site_visitor_anon', 'sqlite_autoindex_events_1']);
    expect(form.sequenced).toBe(0);
    // Dedupe is the key's: the same id again in a site is nothing, in another site an event.
    const insert = (site: string, id: string) =>
      db.prepare(`INSERT INTO events (site_id, id, shape_id, ts, received_at) VALUES (?, ?, 1, 1, 1) ON CONFLICT DO NOTHING`).bind(site, id).run();
    expect((await insert('m1', 'e1')).meta.changes).toBe(0);
    expect((await insert('m2', 'e2')).meta.changes).toBe(1);
    // The foreign keys hold in the new table: an unknown site is refused, an erased lead takes its events.
    await expect(insert('nowhere', 'e9')).rejects.toThrow(/FOREIGN KEY/);
    expect((await db.prepare('PRAGMA foreign_key_check(events)').all()).results).toEqual([]);
    // The readers page the migrated events in their new orders.
    const drizzle = database(db);
    expect((await loggedEvents(drizzle, 'm1', ['ld_m1'])).map((e) => e.id).sort()).toEqual(['e1', 'e2']);
    await db.prepare(`UPDATE visitors SET lead_id = 'ld_m1' WHERE site_id = 'm1' AND id = 'v2'`).run();
    const doc = JSON.parse(await new Response((await exportLead(drizzle, 'm1', 'ld_m1', 1))!.body).text()) as { events: { id: string }[] };
    expect(doc.events.map((e) => e.id)).toEqual(['e2', 'e1', 'e3']);
    await db.prepare(`DELETE FROM leads WHERE id = 'ld_m1'`).run();
    expect((await db.prepare(`SELECT site_id || '/' || id AS id FROM events WHERE site_id IN ('m1', 'm2') ORDER BY 1`).all()).results.map((e) => e.id)).toEqual([
      'm1/e3',
      'm2/e1',
      'm2/e2',
    ]);
  });
});

describe('0014_visitors_keyed_by_id', () => {
  it('keys visitors by (id, site) WITHOUT ROWID, indexes identified ones only, keeps every visitor, and touches no other row', async () => {
    const db = env.MIGRATION_DB;
    await applyD1Migrations(db, upTo('0014_'));
    // Two sites sharing a visitor id, anonymous and identified visitors, one caught as a robot.
    await db.batch([
      db.prepare(`INSERT INTO sites (id, name, site_key, origins) VALUES ('n1', 'n1', 'pk_n1', '[]'), ('n2', 'n2', 'pk_n2', '[]')`),
      db.prepare(`INSERT INTO leads (id, site_id, email, profile) VALUES ('ld_n1', 'n1', 'a@acme.io', '{}')`),
      db.prepare(
        `INSERT INTO visitors (site_id, id, lead_id, first_seen, last_seen, pace_start, pace_count, robot_since) VALUES
           ('n1', 'v1', 'ld_n1', 1, 5, 4, 2, NULL), ('n1', 'v2', NULL, 2, 3, NULL, 0, NULL), ('n2', 'v1', NULL, 1, 9, 8, 150, 9)`,
      ),
      db.prepare(`INSERT INTO event_shapes (site_id, key, type) VALUES ('n1', '["page_view",null,null,null]', 'page_view')`),
      db.prepare(
        `INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, received_at) VALUES ('n1', 'e1', 'v1', 'ld_n1', (SELECT id FROM event_shapes WHERE site_id = 'n1'), 1, 1)`,
      ),
    ]);
    const all = 'SELECT * FROM visitors ORDER BY site_id, id';
    const visitors = (await db.prepare(all).all()).results;
    const others = await otherRows(db, 'visitors');

    await applyD1Migrations(db, upTo('0015_'));

    expect((await db.prepare(all).all()).results).toEqual(visitors);
    expect(await otherRows(db, 'visitors')).toEqual(others);
    const table = await db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'visitors'`).first<string>('sql');
    expect(table).toMatch(/PRIMARY KEY\(`id`, `site_id`\)[\s\S]*\) WITHOUT ROWID$/);
    expect((await db.prepare(`SELECT name, partial FROM pragma_index_list('visitors') ORDER BY name`).all()).results).toEqual([
      { name: 'sqlite_autoindex_visitors_1', partial: 0 },
      { name: 'visitors_lead', partial: 1 },
    ]);
    // The upsert's target is the key; the foreign keys hold: an erased lead leaves its visitor anonymous.
    await db.prepare(`INSERT INTO visitors (site_id, id, first_seen, last_seen) VALUES ('n1', 'v2', 1, 7) ON CONFLICT (site_id, id) DO UPDATE SET last_seen = excluded.last_seen`).run();
    expect(await db.prepare(`SELECT last_seen FROM visitors WHERE site_id = 'n1' AND id = 'v2'`).first('last_seen')).toBe(7);
    await db.prepare(`DELETE FROM leads WHERE id = 'ld_n1'`).run();
    expect(await db.prepare(`SELECT lead_id FROM visitors WHERE site_id = 'n1' AND id = 'v1'`).first('lead_id')).toBeNull();
    expect((await db.prepare('PRAGMA foreign_key_check(visitors)').all()).results).toEqual([]);
  });
});

describe('0015_segment_histograms', () => {
  it("packs each site's counters into one JSON row WITHOUT ROWID, every count kept", async () => {
    const db = env.MIGRATION_DB;
    await applyD1Migrations(db, upTo('0015_'));
    await db.batch([
      db.prepare(`INSERT INTO sites (id, name, site_key, origins) VALUES ('h1', 'h1', 'pk_h1', '[]'), ('h2', 'h2', 'pk_h2', '[]'), ('h3', 'h3', 'pk_h3', '[]')`),
      db.prepare(
        `INSERT INTO segment_counts (site_id, kind, key, count) VALUES
           ('h1', 'band', 'hot', 2), ('h1', 'band', '', 1), ('h1', 'band', 'cold', 0), ('h1', 'score', '45', 1), ('h1', 'score', '-5', 1),
           ('h2', 'band', 'warm', 7), ('h2', 'score', '20', 7)`,
      ),
    ]);

    await applyD1Migrations(db, upTo('0016_'));

    const rows = (await db.prepare('SELECT site_id, counts FROM segment_histograms ORDER BY site_id').all<{ site_id: string; counts: string }>()).results;
    expect(rows.map((r) => [r.site_id, JSON.parse(r.counts)])).toEqual([
      ['h1', { band: { hot: 2, '': 1, cold: 0 }, score: { '45': 1, '-5': 1 } }],
      ['h2', { band: { warm: 7 }, score: { '20': 7 } }],
    ]);
    const table = await db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'segment_histograms'`).first<string>('sql');
    expect(table).toMatch(/\) WITHOUT ROWID$/);
    expect(await db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'segment_counts'`).first('n')).toBe(0);
    // A site deleted takes its counters along.
    await db.prepare(`DELETE FROM sites WHERE id = 'h1'`).run();
    expect(await db.prepare(`SELECT count(*) AS n FROM segment_histograms WHERE site_id = 'h1'`).first('n')).toBe(0);
  });
});

describe('0016_events_lead_partial', () => {
  it("keeps attributed events only in a lead's events index, which queries by lead still use", async () => {
    const db = env.MIGRATION_DB;
    await applyD1Migrations(db, upTo('0016_'));
    await db.batch([
      db.prepare(`INSERT INTO sites (id, name, site_key, origins) VALUES ('p1', 'p1', 'pk_p1', '[]')`),
      db.prepare(`INSERT INTO leads (id, site_id, email, profile) VALUES ('ld_p1', 'p1', 'p@acme.io', '{}')`),
      db.prepare(
        `INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, received_at) VALUES
           ('p1', 'e1', 'v1', 'ld_p1', 1, 3, 1), ('p1', 'e2', 'v1', 'ld_p1', 1, 1, 1), ('p1', 'e3', 'v2', NULL, 1, 2, 1)`,
      ),
    ]);
    const all = 'SELECT * FROM events ORDER BY id';
    const before = (await db.prepare(all).all()).results;

    await applyD1Migrations(db, upTo('0017_'));

    expect((await db.prepare(all).all()).results).toEqual(before);
    const index = await db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'events_lead_ts'`).first<string>('sql');
    expect(index).toMatch(/\(`lead_id`,`ts`,`id`,`shape_id`\) WHERE lead_id IS NOT NULL$/);
    expect(await db.prepare("SELECT count(*) AS n FROM events INDEXED BY events_lead_ts WHERE lead_id IS NOT NULL AND site_id = 'p1'").first('n')).toBe(2);
    // A lead's events by the index, in time order, as before.
    const byLead = `SELECT id FROM events WHERE lead_id IN (SELECT value FROM json_each('["ld_p1"]')) ORDER BY lead_id, ts`;
    expect((await db.prepare(byLead).all()).results.map((r) => r.id)).toEqual(['e2', 'e1']);
    const plan = (await db.prepare(`EXPLAIN QUERY PLAN ${byLead}`).all<{ detail: string }>()).results.map((r) => r.detail).join('; ');
    expect(plan).toMatch(/USING COVERING INDEX events_lead_ts/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
  });
});

describe('0017_lead_history_pages', () => {
  it("pages the events of the leads whose history was NULL, and leaves the others' rows as they were", async () => {
    const db = env.MIGRATION_DB;
    await applyD1Migrations(db, upTo('0017_'));
    await db.batch([
      db.prepare(`INSERT INTO sites (id, name, site_key, origins) VALUES ('q1', 'q1', 'pk_q1', '[]')`),
      db.prepare(`INSERT INTO event_shapes (site_id, key, type) VALUES ('q1', 'a', 'page_view'), ('q1', 'b', 'download')`),
      // A lead past the old limit (its history NULL), one with a NULL history of one event, one kept in its row.
      db.prepare(
        `INSERT INTO leads (id, site_id, email, profile, history) VALUES ('ld_big', 'q1', 'big@acme.io', '{}', NULL),
           ('ld_one', 'q1', 'one@acme.io', '{}', NULL), ('ld_row', 'q1', 'row@acme.io', '{}', '7:1')`,
      ),
      db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 12000)
         INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, received_at)
         SELECT 'q1', 'e' || i, 'v1', 'ld_big', (SELECT id FROM event_shapes WHERE key = CASE i % 3 WHEN 0 THEN 'b' ELSE 'a' END), 1000 + i, 1 FROM n`,
      ),
      db.prepare(`INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, received_at) VALUES ('q1', 'o1', 'v2', 'ld_one', 1, 5, 1)`),
    ]);

    await applyD1Migrations(db, upTo('0018_'));

    const leads = (await db.prepare(`SELECT id, history, history_pages FROM leads WHERE site_id = 'q1' ORDER BY id`).all()).results;
    expect(leads).toEqual([
      { id: 'ld_big', history: '', history_pages: 3 },
      { id: 'ld_one', history: '', history_pages: 1 },
      { id: 'ld_row', history: '7:1', history_pages: 0 },
    ]);
    const pages = (await db.prepare(`SELECT lead_id, page, length(history) - length(replace(history, ',', '')) + 1 AS n FROM lead_history_pages ORDER BY lead_id, page`).all()).results;
    expect(pages).toEqual([
      { lead_id: 'ld_big', page: 0, n: 5000 },
      { lead_id: 'ld_big', page: 1, n: 5000 },
      { lead_id: 'ld_big', page: 2, n: 2001 },
      { lead_id: 'ld_one', page: 0, n: 1 },
    ]);
    const table = await db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'lead_history_pages'`).first<string>('sql');
    expect(table).toMatch(/PRIMARY KEY\(`lead_id`, `page`\)[\s\S]*\) WITHOUT ROWID$/);
    // A recompute reads from the pages exactly the events the log holds.
    const drizzle = database(db);
    const { eventsOf } = await readChunk(drizzle, 'q1', '');
    const logged = groupBy(await loggedEvents(drizzle, 'q1', ['ld_big', 'ld_one']), (e) => e.leadId!);
    for (const lead of ['ld_big', 'ld_one']) {
      const pairs = (es: readonly { ts: number; type: string }[]) => es.map((e) => `${e.ts}:${e.type}`).sort();
      expect(pairs(eventsOf(lead))).toEqual(pairs(logged.get(lead)!));
    }
    expect(eventsOf('ld_big')).toHaveLength(12_001);
  });
});

describe('0018_band_counters_only', () => {
  it("takes the score histogram out of each site's counters row and keeps every band count", async () => {
    const db = env.MIGRATION_DB;
    await applyD1Migrations(db, upTo('0018_'));
    await db.batch([
      db.prepare(`INSERT INTO sites (id, name, site_key, origins) VALUES ('c1', 'c1', 'pk_c1', '[]'), ('c2', 'c2', 'pk_c2', '[]')`),
      db.prepare(
        `INSERT INTO segment_histograms (site_id, counts) VALUES
           ('c1', '{"band":{"hot":2,"":1,"cold":0},"score":{"45":1,"-5":1}}'), ('c2', '{"band":{"warm":7},"score":{}}')`,
      ),
    ]);

    await applyD1Migrations(db, upTo('0019_'));

    const rows = (await db.prepare(`SELECT site_id, counts FROM segment_histograms WHERE site_id IN ('c1', 'c2') ORDER BY site_id`).all<{ site_id: string; counts: string }>()).results;
    expect(rows).toEqual([
      { site_id: 'c1', counts: '{"band":{"hot":2,"":1,"cold":0}}' },
      { site_id: 'c2', counts: '{"band":{"warm":7}}' },
    ]);
  });
});

describe('0019_transitions_keyed_by_site', () => {
  const columns = 'site_id, seq, lead_id, type, from_value, to_value, reason, branch, cause, at';

  it("keys changes by (site, seq) WITHOUT ROWID, keeps each with its number, and numbers a site's next after every number handed out", async () => {
    const db = env.MIGRATION_DB;
    await applyD1Migrations(db, upTo('0019_'));
    await db.batch([
      db.prepare(`INSERT INTO sites (id, name, site_key, origins) VALUES ('t1', 't1', 'pk_t1', '[]'), ('t2', 't2', 'pk_t2', '[]'), ('t3', 't3', 'pk_t3', '[]')`),
      db.prepare(`INSERT INTO leads (id, site_id, email, profile) VALUES ('ld_t1', 't1', 'a@acme.io', '{}'), ('ld_t2', 't2', 'b@acme.io', '{}')`),
      db.prepare(
        `INSERT INTO transitions (site_id, lead_id, type, from_value, to_value, reason, branch, cause, at) VALUES
           ('t1', 'ld_t1', 'lead.band_changed', NULL, 'warm', NULL, 'technical-content', 'event', 1),
           ('t2', 'ld_t2', 'lead.band_changed', NULL, 'cold', NULL, 'generic-content', 'event', 2),
           ('t1', 'ld_t1', 'lead.stage_changed', 'prospect', 'mql', NULL, NULL, 'event', 3),
           ('t2', 'ld_t2', 'lead.excluded', NULL, NULL, 'Student', NULL, 'event', 4),
           ('t1', 'ld_t1', 'lead.band_changed', 'warm', 'hot', NULL, 'sales-meeting', 'event', 5)`,
      ),
    ]);
    // An erasure took the newest change: the sequence stands at a number no row holds now.
    await db.prepare(`DELETE FROM transitions WHERE site_id = 't1' AND at = 5`).run();
    const top = await db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'transitions'`).first<number>('seq');
    const all = `SELECT ${columns} FROM transitions WHERE site_id IN ('t1', 't2', 't3') AND type <> 'erased' ORDER BY site_id, seq`;
    const changes = (await db.prepare(all).all()).results;
    expect(changes).toHaveLength(4);

    await applyD1Migrations(db, env.TEST_MIGRATIONS);

    expect((await db.prepare(all).all()).results).toEqual(changes);
    // Each site behind the sequence gets a blank at its number, none of the erased change's values.
    expect(
      (await db.prepare(`SELECT site_id, seq, lead_id, from_value, to_value, reason, branch FROM transitions WHERE site_id IN ('t1', 't2', 't3') AND type = 'erased' ORDER BY site_id`).all()).results,
    ).toEqual(['t1', 't2', 't3'].map((site_id) => ({ site_id, seq: top, lead_id: '', from_value: null, to_value: null, reason: null, branch: null })));
    const form = await tableForm(db, 'transitions');
    expect(form.sql).toMatch(/PRIMARY KEY\(`site_id`, `seq`\)[\s\S]*\) WITHOUT ROWID$/);
    expect(form.indexes).toEqual(['sqlite_autoindex_transitions_1', 'transitions_lead', 'transitions_site_stage']);
    expect(form.sequenced).toBe(0);

    // The feed reads the changes as before, and not the blank; the next change is numbered after it.
    const drizzle = database(db);
    const t1 = changes.filter((c) => c.site_id === 't1').map((c) => [c.seq, c.type]);
    expect(t1.map(([, type]) => type)).toEqual(['lead.band_changed', 'lead.stage_changed']);
    expect((await changesAfter(drizzle, 't1', 0, 10)).map((r) => [r.t.seq, r.t.type])).toEqual(t1);
    await runBatch(db, salesWrites(drizzle, (await drizzle.select().from(leads).where(eq(leads.id, 'ld_t1')))[0]!, { stage: 'sql' }, 'test', 6).statements);
    expect((await changesAfter(drizzle, 't1', Number(t1[1]![0]), 10)).map((r) => [r.t.seq, r.t.type, r.t.toValue])).toEqual([[top! + 1, 'lead.stage_changed', 'sql']]);
    // A site deleted takes its changes along.
    await db.prepare(`DELETE FROM sites WHERE id = 't3'`).run();
    expect(await db.prepare(`SELECT count(*) AS n FROM transitions WHERE site_id = 't3'`).first('n')).toBe(0);
  });
});
