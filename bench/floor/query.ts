/**
 * @module The floor `bench/recompute.js` holds a recompute against: a worker on the same local D1
 * that runs the query it is sent and answers how long D1 took to hand it the rows, timed inside the
 * worker. The rows come back to a worker, as a recompute's reads do. Through wrangler's proxy to
 * Node instead, the floor's 100,000 rows took more than twice as long as the query itself (0.48–0.62 s
 * against 0.21–0.25 s in one run). Local only, never deployed: it runs whatever it is sent.
 */

interface Env {
  DB: D1Database;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return new Response('query floor\n');
    const { sql, params = [] } = (await request.json()) as { sql: string; params?: unknown[] };
    // workerd moves its clock on at I/O: the two readings bracket D1's answer, its rows decoded.
    const start = Date.now();
    const rows = await env.DB.prepare(sql)
      .bind(...params)
      .raw();
    // The last row's first column: where a reader walking by cursor goes on from.
    return Response.json({ ms: Date.now() - start, rows: rows.length, last: rows.at(-1)?.[0] ?? null });
  },
};
