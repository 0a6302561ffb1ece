/**
 * @module The floor `bench/cost.js` holds collect against: a worker whose fetch does only the
 * `DB.batch()` insert of the events that collect's ingest makes — the same rows, the same shape
 * lookup by key, the same rows per statement — and nothing else: no site lookup, no validation,
 * no read, no scoring, no visitors or leads. What collect costs beyond this is what it adds.
 */
import { shapeKeyOf, shapeOf } from '../../worker/scoring/event-shapes';

interface Env {
  DB: D1Database;
  /** The site the events are stored under; the bench's collect runs store theirs under it too. */
  SITE_ID: string;
}

interface BenchEvent {
  id: string;
  type: string;
  ts: number;
  visitor?: string;
  url?: string;
  title?: string;
  referrer?: string;
  contentType?: string;
  props?: Record<string, unknown>;
}

/** Ingest inserts up to 500 events a statement, their values in one JSON parameter, shapes by key. */
const EVENTS_PER_INSERT = 500;
const INSERT = `INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, url, title, referrer, received_at)
  SELECT ?1, j.value ->> 0, j.value ->> 1, j.value ->> 2, s.id, j.value ->> 3, j.value ->> 4, j.value ->> 5, j.value ->> 6, j.value ->> 7
  FROM json_each(?2) AS j
  LEFT JOIN event_shapes AS s ON s.site_id = ?1 AND s.key = j.value ->> 8
  WHERE true ON CONFLICT DO NOTHING`;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return new Response('floor\n');
    const { events } = (await request.json()) as { events: BenchEvent[] };
    const now = Date.now();
    const inserts: D1PreparedStatement[] = [];
    for (let i = 0; i < events.length; i += EVENTS_PER_INSERT) {
      const values = events.slice(i, i + EVENTS_PER_INSERT).map((e) => {
        const key = shapeKeyOf(shapeOf({ type: e.type, url: e.url ?? null, contentType: e.contentType?.toLowerCase() ?? null, props: e.props ?? null }));
        return [e.id, e.visitor ?? null, null, e.ts, e.url ?? null, e.title ?? null, e.referrer ?? null, now, key];
      });
      inserts.push(env.DB.prepare(INSERT).bind(env.SITE_ID, JSON.stringify(values)));
    }
    await env.DB.batch(inserts);
    return Response.json({ accepted: events.map((e) => e.id), duplicates: [], rejected: [] }, { status: 202 });
  },
};
