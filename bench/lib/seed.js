/**
 * A benchmark site of many leads and events in local D1, shared by the benchmarks that need one
 * (bench/recompute, bench/reads), and the model save they score it with.
 */
import { join } from 'node:path';
import { getPlatformProxy } from 'wrangler';
import { ROOT } from '../../scripts/lib/root.js';

/**
 * A direct handle on the stack's local D1. Two workerd processes on one SQLite file block each
 * other: open it only while `wrangler dev` is stopped, and dispose of it before starting it again.
 */
export const openD1 = (stateDir) => getPlatformProxy({ configPath: join(ROOT, 'wrangler.toml'), persist: { path: join(stateDir, 'd1', 'v3') } });

/**
 * `leads` leads (ids `ld_bench0000000`…) of the 'demo' site, each with `perLead` events, unscored.
 * Seeding happens in SQL itself (recursive CTEs): 1M rows over HTTP would measure the wrong thing.
 */
export async function seedLeads(DB, leads, perLead) {
  await DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
     INSERT INTO leads (id, site_id, email, profile, stage, created_at, updated_at)
     SELECT printf('ld_bench%07d', i), 'demo', printf('lead%d@company%d.example', i, i % 997),
            json_object('jobTitle', CASE i % 4 WHEN 0 THEN 'Marketing manager' WHEN 1 THEN 'Engineer' WHEN 2 THEN 'Head of Sales' ELSE 'Student' END,
                        'companySize', (i % 7) * 40, 'industry', CASE i % 3 WHEN 0 THEN 'Software' ELSE 'Retail' END,
                        'email', printf('lead%d@company%d.example', i, i % 997), 'emailDomain', printf('company%d.example', i % 997)),
            'prospect', 0, 0
     FROM n`,
  )
    .bind(leads)
    .run();
  const paths = ['/', '/pricing', '/references', '/blog/article', '/about', '/tarifs/pro'];
  const pathCase = paths.map((p, i) => `WHEN ${i} THEN '${p}'`).join(' ');
  // What event i is, as SQL over i: its type, its path (as its shape keeps it: ingest cuts a URL
  // down to what rules read), its content type. Ten kinds a lead, a demo request one time in 1,000.
  const kind = `CASE i % 10 WHEN 6 THEN 'download' WHEN 7 THEN 'form_submit' WHEN 8 THEN 'email_open' WHEN 9 THEN 'email_click' ELSE 'page_view' END AS type,
              CASE WHEN i % 10 = 6 THEN '/files/guide.pdf' WHEN i % 10 < 6 THEN CASE i % 10 ${pathCase} END ELSE NULL END AS path,
              CASE i % 10 WHEN 6 THEN 'white_paper' WHEN 7 THEN CASE WHEN i % 1000 = 7 THEN 'demo_request' ELSE 'ebook' END ELSE NULL END AS ct`;
  // The shapes, keyed as the worker keys them (`shapeKeyOf`), then the events pointing at them.
  await DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
     INSERT INTO event_shapes (site_id, key, type, url, content_type)
     SELECT DISTINCT 'demo', json_array(type, path, ct, NULL), type, path, ct FROM (SELECT ${kind} FROM n)`,
  ).run();
  const slice = 100_000;
  for (let start = 0; start < leads * perLead; start += slice) {
    await DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2 - 1)
       INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, url, received_at)
       SELECT 'demo', printf('ev%09d', k.i), printf('v%07d', k.i / ?3), printf('ld_bench%07d', k.i / ?3), s.id,
              ?4 - (k.i * 7919 % 15552000) * 1000, 'https://www.example.com' || k.path, ?4
       FROM (SELECT i, ${kind} FROM n) AS k
       JOIN event_shapes AS s ON s.site_id = 'demo' AND s.key = json_array(k.type, k.path, k.ct, NULL)
       ORDER BY k.i`,
    )
      .bind(start, Math.min(start + slice, leads * perLead), perLead, Date.now())
      .run();
  }
  // Each lead's events packed into its row, as ingest keeps them (see worker/db/lead-history.ts).
  await DB.prepare(
    `UPDATE leads SET history = (SELECT group_concat(ts || ':' || shape_id, ',') FROM events WHERE lead_id = leads.id) WHERE site_id = 'demo'`,
  ).run();
}

/**
 * Saves the model through the worker and waits until every lead is rescored with it. Timed from the
 * request to the job's end as the worker stamped it.
 *
 * Cloudflare's queue delivers the job's first message at once; the local one, after a long job,
 * was seen to deliver it late or not at all, leaving the job to the next cron run (3 to 4 s of
 * waiting in runs of this bench). The cron trigger is fired once right after the save, so the job
 * starts as it would in production: queue and cron race for its lease, and one of them runs it.
 */
export async function recomputeWith(stack, model) {
  const headers = { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' };
  const t0 = Date.now();
  const saved = await fetch(`${stack.workerUrl}/v1/model`, { method: 'PUT', headers, body: JSON.stringify(model) });
  const answer = await saved.text();
  if (saved.status !== 201) throw new Error(`saving the model: ${saved.status} ${answer}`);
  fetch(`${stack.workerUrl}/cdn-cgi/handler/scheduled`, { signal: AbortSignal.timeout(60_000) }).catch(() => {});
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    let res;
    try {
      res = await fetch(`${stack.workerUrl}/v1/model/recompute`, { headers, signal: AbortSignal.timeout(5000) });
    } catch (err) {
      console.log(`poll: ${err.name} after 5 s; polling again`);
      continue;
    }
    const { recompute: job } = await res.json();
    if (job.status !== 'running') return { job, ms: job.finishedAt - t0 };
  }
}
