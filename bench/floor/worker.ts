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

/** Ingest splits its event rows with `chunksFor(rows, 12)`: 8 rows a statement. */
const ROWS_PER_INSERT = 8;
const ROW = '(?, ?, ?, NULL, (SELECT id FROM event_shapes WHERE site_id = ? AND key = ?), ?, ?, ?, ?, ?)';

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return new Response('floor\n');
    const { events } = (await request.json()) as { events: BenchEvent[] };
    const now = Date.now();
    const inserts: D1PreparedStatement[] = [];
    for (let i = 0; i < events.length; i += ROWS_PER_INSERT) {
      const rows = events.slice(i, i + ROWS_PER_INSERT);
      const sql = `INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, url, title, referrer, received_at)
        VALUES ${rows.map(() => ROW).join(', ')} ON CONFLICT DO NOTHING`;
      const values = rows.flatMap((e) => {
        const key = shapeKeyOf(shapeOf({ type: e.type, url: e.url ?? null, contentType: e.contentType?.toLowerCase() ?? null, props: e.props ?? null }));
        return [env.SITE_ID, e.id, e.visitor ?? null, env.SITE_ID, key, e.ts, e.url ?? null, e.title ?? null, e.referrer ?? null, now];
      });
      inserts.push(env.DB.prepare(sql).bind(...values));
    }
    await env.DB.batch(inserts);
    return Response.json({ accepted: events.map((e) => e.id), duplicates: [], rejected: [] }, { status: 202 });
  },
};
