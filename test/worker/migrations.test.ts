/** Migrations that move data: existing rows come through whole. */
import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { database } from '../../worker/db/client';
import { eventsByLead } from '../../worker/db/lead-events';
import { readChunk } from '../../worker/jobs/lead-chunks';

describe('0010_event_shapes', () => {
  it('moves what rules test of each event into shapes, one per distinct shape, and keeps every event', async () => {
    const db = env.MIGRATION_DB;
    const at = env.TEST_MIGRATIONS.findIndex((m) => m.name.startsWith('0010_'));
    expect(at).toBeGreaterThan(0);
    await applyD1Migrations(db, env.TEST_MIGRATIONS.slice(0, at));
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

    await applyD1Migrations(db, env.TEST_MIGRATIONS);

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
    // The readers get the same events from the migrated rows, shapes shared across leads.
    const drizzle = database(db);
    const { eventsOf } = await readChunk(drizzle, 's', '');
    const byLead = await eventsByLead(drizzle, ['ld_a', 'ld_b']);
    for (const lead of ['ld_a', 'ld_b']) {
      const strip = (es: { ts: number; type: string; url?: string | null; contentType?: string | null; props?: unknown }[]) =>
        es.map(({ ts, type, url, contentType, props }) => ({ ts, type, url, contentType, props })).sort((a, b) => a.ts - b.ts);
      expect(strip(eventsOf.get(lead)!)).toEqual(strip(byLead.get(lead)!));
      expect(eventsOf.get(lead)).toHaveLength(lead === 'ld_a' ? 3 : 2);
    }
    expect(eventsOf.get('ld_b')!.find((e) => e.type === 'form_submit')).toMatchObject({ contentType: 'demo_request', props: { form: 'demo' } });
    // New events are still numbered after the old ones.
    await db.prepare(`INSERT INTO events (site_id, id, shape_id, ts, received_at) VALUES ('s', 'e7', 1, 1, 1)`).run();
    expect(await db.prepare(`SELECT seq FROM events WHERE id = 'e7'`).first('seq')).toBe(before.length + 1);
  });
});
