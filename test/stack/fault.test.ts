/**
 * The worker killed under load: SIGKILL to `wrangler dev`'s whole process group (workerd and the
 * local D1 it holds), once in the middle of collect traffic and once in the middle of a recompute,
 * then started again on the same local D1 while the visitors keep sending. Afterwards nothing
 * acknowledged may be missing, and every lead's stored scores, band, stage and exclusion must be
 * what the pure engine computes from the lead's stored events and profile.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getPlatformProxy } from 'wrangler';
import { ROOT } from '../../scripts/lib/root.js';
import { freePort, startStack } from '../../scripts/lib/stack.js';
import { makeVisitors, startTraffic } from '../../scripts/lib/traffic.js';
import { DEFAULT_MODEL } from '../../worker/scoring/default-model';
import { Model, type Stage } from '../../worker/scoring/model';
import { scoreLead } from '../../worker/scoring/score';

type Stack = Awaited<ReturnType<typeof startStack>>;
type Traffic = ReturnType<typeof startTraffic>;
let stack: Stack;
const traffics: Traffic[] = [];
const stateDir = mkdtempSync(join(tmpdir(), 'leadscore-fault-'));
/** Leads written straight into D1 so that a recompute lasts long enough to be killed half-way. */
const SEEDED = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, test: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

/** The local D1 itself, while the worker is down: two workerd processes on one SQLite file block each other. */
async function withD1<T>(work: (db: D1Database) => Promise<T>): Promise<T> {
  const proxy = await getPlatformProxy<{ DB: D1Database }>({ configPath: join(ROOT, 'wrangler.toml'), persist: { path: join(stateDir, 'd1', 'v3') } });
  try {
    return await work(proxy.env.DB);
  } finally {
    await proxy.dispose();
  }
}

/** Fewer visitors on the site at once than the bench has, so that visits get as far as the form. */
function traffic(visitors: number, concurrency: number): Traffic {
  const url = `${stack.workerUrl.replace('localhost', '127.0.0.1')}/v1/collect`;
  const t = startTraffic({ url, siteKey: stack.siteKey, visitors: makeVisitors(visitors, { origin: stack.demoUrl }), concurrency, browsing: 40 });
  traffics.push(t);
  return t;
}

async function api(path: string, init: RequestInit = {}) {
  const res = await fetch(`${stack.workerUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${body}`);
  return JSON.parse(body);
}

interface LeadRow {
  id: string;
  profile: string;
  fit: number;
  activity: number;
  engagement: number;
  score: number;
  band: string | null;
  stage: Stage;
  excluded_reason: string | null;
  event_count: number;
  scored_at: number;
  model_version: number;
}

/**
 * Everything the kills must not have broken, read from D1: the acknowledged events all stored; each
 * lead as the engine scores it from its stored events and profile, at the time it was scored; no
 * event of an identified visitor left out of its lead; the band counters equal to a recount.
 * Answers the mismatches, so that a failure shows them.
 */
async function verify(db: D1Database, acked: Set<string>) {
  const stored = new Set((await db.prepare(`SELECT id FROM events WHERE site_id = 'demo'`).all<{ id: string }>()).results.map((r) => r.id));
  const lost = [...acked].filter((id) => !stored.has(id));

  const versions = new Map<number, Model>([[0, DEFAULT_MODEL]]);
  for (const m of (await db.prepare(`SELECT version, document FROM models WHERE site_id = 'demo'`).all<{ version: number; document: string }>()).results) {
    versions.set(m.version, Model.parse(JSON.parse(m.document)));
  }
  const { results: leads } = await db.prepare(`SELECT * FROM leads WHERE site_id = 'demo'`).all<LeadRow>();
  // Each event whole: its shape's type, content type and properties, and its own full URL rather
  // than the shape's cut-down one, so that the cut is checked too (rules must read the same from both).
  // A lead's are those stored with its id and those its visitors sent before they identified,
  // stored without one (see worker/db/lead-events.ts).
  const { results: events } = await db
    .prepare(
      `SELECT coalesce(e.lead_id, v.lead_id) AS lead_id, e.id, e.ts, e.url, s.type, s.content_type, s.props
       FROM events AS e JOIN event_shapes AS s ON s.id = e.shape_id
       LEFT JOIN visitors AS v ON v.site_id = e.site_id AND v.id = e.visitor_id
       WHERE e.site_id = 'demo' AND coalesce(e.lead_id, v.lead_id) IS NOT NULL`,
    )
    .all<{ lead_id: string; id: string; type: string; ts: number; url: string | null; content_type: string | null; props: string | null }>();
  const eventsOf = new Map<string, { id: string; type: string; ts: number; url: string | null; contentType: string | null; props: Record<string, unknown> | null }[]>();
  for (const e of events) {
    const list = eventsOf.get(e.lead_id) ?? [];
    list.push({ id: e.id, type: e.type, ts: e.ts, url: e.url, contentType: e.content_type, props: e.props ? JSON.parse(e.props) : null });
    eventsOf.set(e.lead_id, list);
  }
  const wrong: unknown[] = [];
  for (const lead of leads) {
    const mine = eventsOf.get(lead.id) ?? [];
    const fresh = scoreLead(versions.get(lead.model_version)!, mine, JSON.parse(lead.profile), lead.scored_at);
    const want = {
      ...fresh.scores,
      score: fresh.total,
      band: fresh.band,
      stage: fresh.stage,
      excluded_reason: fresh.exclusion?.reason ?? null,
      event_count: mine.length,
    };
    const have = {
      fit: lead.fit,
      activity: lead.activity,
      engagement: lead.engagement,
      score: lead.score,
      band: lead.band,
      stage: lead.stage,
      excluded_reason: lead.excluded_reason,
      event_count: lead.event_count,
    };
    if (JSON.stringify(have) !== JSON.stringify(want)) wrong.push({ id: lead.id, have, want });
  }

  const recount = new Map<string, number>();
  const add = (k: string) => recount.set(k, (recount.get(k) ?? 0) + 1);
  for (const l of leads) add(l.band ?? '');
  const counters = new Map<string, number>();
  const row = await db.prepare(`SELECT counts FROM segment_histograms WHERE site_id = 'demo'`).first<{ counts: string }>();
  const packed = JSON.parse(row?.counts ?? '{}') as { band?: Record<string, number> };
  for (const [key, count] of Object.entries(packed.band ?? {})) if (count !== 0) counters.set(key, count);
  const sorted = (m: Map<string, number>) => JSON.stringify([...m].sort());

  return {
    leads: leads.length,
    lost,
    wrong: wrong.slice(0, 5),
    wrongCount: wrong.length,
    counters: sorted(counters) === sorted(recount) ? 'equal' : { counters: sorted(counters), recount: sorted(recount) },
    modelVersions: [...new Set(leads.map((l) => l.model_version))],
  };
}

/** SEEDED leads with five events each, as bench/recompute writes them, and their segment counters. */
async function seed(db: D1Database) {
  const now = Date.now();
  await db
    .prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
       INSERT INTO leads (id, site_id, email, profile, stage, created_at, updated_at)
       SELECT printf('ld_seed%06d', i), 'demo', printf('seed%d@company%d.example', i, i % 97),
              json_object('jobTitle', CASE i % 3 WHEN 0 THEN 'Marketing manager' WHEN 1 THEN 'Engineer' ELSE 'Student' END,
                          'email', printf('seed%d@company%d.example', i, i % 97), 'emailDomain', printf('company%d.example', i % 97)),
              'prospect', ?2, ?2
       FROM n`,
    )
    .bind(SEEDED, now)
    .run();
  // Three page shapes, keyed as the worker keys them (`shapeKeyOf`), then the events pointing at them.
  await db
    .prepare(
      `INSERT INTO event_shapes (site_id, key, type, url)
       SELECT 'demo', json_array('page_view', j.value, NULL, NULL), 'page_view', j.value FROM json_each(?1) AS j
       WHERE true ON CONFLICT (site_id, key) DO NOTHING`,
    )
    .bind(JSON.stringify(['/', '/pricing', '/references']))
    .run();
  await db
    .prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 * 3 - 1)
       INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, url, received_at)
       SELECT 'demo', printf('seed-ev%07d', k.i), printf('seed-v%06d', k.i / 3), printf('ld_seed%06d', k.i / 3), s.id,
              ?2 - k.i % 3 * 60000, 'http://localhost' || k.path, ?2
       FROM (SELECT i, CASE i % 3 WHEN 0 THEN '/' WHEN 1 THEN '/pricing' ELSE '/references' END AS path FROM n) AS k
       JOIN event_shapes AS s ON s.site_id = 'demo' AND s.key = json_array('page_view', k.path, NULL, NULL)`,
    )
    .bind(SEEDED, now)
    .run();
  // Each seeded lead's events packed into its row, as ingest keeps them (see worker/db/lead-history.ts);
  // the leads the traffic made keep theirs, which hold their visitors' events from before they identified.
  await db
    .prepare(`UPDATE leads SET history = (SELECT group_concat(ts || ':' || shape_id, ',') FROM events WHERE lead_id = leads.id) WHERE site_id = 'demo' AND id LIKE 'ld_seed%'`)
    .run();
  // Unscored leads are in no band: they count under '' until the recompute moves them.
  await db
    .prepare(
      `INSERT INTO segment_histograms (site_id, counts) VALUES ('demo', json_object('band', json_object('', CAST(?1 AS INTEGER))))
       ON CONFLICT (site_id) DO UPDATE SET counts = json_set(counts, '$.band.""', coalesce(counts ->> '$.band.""', 0) + CAST(?1 AS INTEGER))`,
    )
    .bind(SEEDED)
    .run();
}

beforeAll(async () => {
  // The cron fires every 2 s, so that a recompute whose run was killed is resumed soon after a
  // restart. No rate limits: a 429 would be one more failure to retry, not the fault under test.
  stack = await startStack({ workerPort: await freePort(), demoPort: await freePort(), stateDir, cronEveryMs: 2000, rateLimits: false });
});

afterAll(async () => {
  for (const t of traffics) t.close();
  await stack?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

it('loses no acknowledged event and scores every lead as the engine does, through a kill under load and one during a recompute', async () => {
  // 1. Killed in the middle of the traffic; the visitors keep sending, and send again what failed.
  const first = traffic(300, 8);
  await until('the traffic flows', () => first.acked.size >= 150);
  const ackedBefore = first.acked.size;
  await stack.kill();
  await sleep(500);
  await stack.restart();
  await until('the traffic flows again', () => first.acked.size >= ackedBefore + 150);
  // Visitors identify at random on the contact page: the traffic goes on until enough have for the
  // leads' checks below to mean something, however fast the events went through.
  await until('more than 10 visitors identified', async () => (await api('/v1/leads?limit=20')).leads.length > 10, 60_000);
  const during = first.window();
  expect(Object.keys(during.failures).length).toBeGreaterThan(0);
  expect(await first.drain(performance.now() + 20_000)).toBe(0);
  await stack.kill();

  const afterLoad = await withD1(async (db) => {
    const result = await verify(db, first.acked);
    await seed(db);
    return result;
  });
  expect(afterLoad).toMatchObject({ lost: [], wrongCount: 0, counters: 'equal', modelVersions: [0] });
  expect(afterLoad.leads).toBeGreaterThan(10);

  // 2. Killed during the recompute a new model starts, with visitors still browsing.
  await stack.restart();
  const second = traffic(200, 4);
  const { model } = await api('/v1/model');
  const generous = {
    ...model,
    behaviourRules: model.behaviourRules.map((r: { id: string; points: number }) =>
      r.id === 'pricing-page' || r.id === 'page-view' ? { ...r, points: r.points * 2 } : r,
    ),
  };
  const saved = await api('/v1/model', { method: 'PUT', body: JSON.stringify(generous) });
  const jobPath = `/v1/model/recompute/${saved.recompute.id}`;
  // The run's chunks keep the local D1 busy, and a request waits for them: a poll that gets no
  // answer within a second means the run is under way, as surely as one that shows progress.
  await until('the recompute is under way', async () => {
    try {
      const res = await fetch(`${stack.workerUrl}${jobPath}`, { headers: { authorization: `Bearer ${stack.apiKey}` }, signal: AbortSignal.timeout(1000) });
      const { recompute } = (await res.json()) as { recompute: { status: string; processed: number } };
      if (recompute.status !== 'running') throw new Error(`the recompute was ${recompute.status} before it could be killed`);
      return recompute.processed > 0;
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') return true;
      throw err;
    }
  });
  // At once: the run writes 25,000 leads a chunk, three chunks in all, and a quiet machine finishes
  // them within two or three seconds.
  await stack.kill();
  const killed = await withD1(async (db) => {
    const job = await db.prepare(`SELECT status, processed, total FROM recomputes WHERE id = ?`).bind(saved.recompute.id).first<{ status: string; processed: number; total: number }>();
    // The dead run holds the job's lease for a minute; passing that minute here keeps the test short.
    await db.prepare(`UPDATE recomputes SET lease_until = 0 WHERE id = ?`).bind(saved.recompute.id).run();
    return job!;
  });
  console.log(`killed during the recompute at ${killed.processed} of ${killed.total} leads`);
  expect(killed.status).toBe('running');
  await stack.restart();
  // The polls wait for the run's chunks, as above: one that gets no answer in time is asked again.
  await until(
    'the cron has resumed the recompute and finished it',
    async () => (await api(jobPath).catch((err) => ({ recompute: { status: (err as Error).name } }))).recompute.status === 'done',
    60_000,
  );
  expect(await second.drain(performance.now() + 20_000)).toBe(0);
  await stack.kill();

  const acked = new Set([...first.acked, ...second.acked]);
  const afterRecompute = await withD1((db) => verify(db, acked));
  expect(afterRecompute).toMatchObject({ lost: [], wrongCount: 0, counters: 'equal', modelVersions: [saved.version] });
  expect(afterRecompute.leads).toBeGreaterThan(SEEDED);
}, 150_000);
