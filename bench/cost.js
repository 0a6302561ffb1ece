#!/usr/bin/env node
/**
 * bench/cost: what collect costs, in one run, on local D1 under `wrangler dev` (rate limits lifted).
 *
 *  1. D1 rows read and written per scored event, and D1 round trips per request, as D1's own
 *     `meta.rows_read` / `meta.rows_written` count them: the worker runs with `D1_METERING=on`, which
 *     answers each collect request with its statements' sums (see `worker/db/metering.ts`). For an
 *     anonymous page view, a page view of an identified lead with 10, 100, 1,000 and 12,000 stored
 *     events (the last one's history in two pages and its row, see `db/lead-history`), an identify
 *     after 3 and after 12 anonymous page views (which it scores with itself), batches of 10, and the lead's page view again once the site has 1,000 more leads.
 *     The isolate keeps a site 30 s once looked up (`worker/db/site-cache.ts`), so these are warm
 *     requests; the same anonymous page view is also sent as a site's first request, to a site made
 *     for it, which is what every request cost before that cache (and still costs a cold isolate).
 *     Twice: with the isolate recalling the visitors and leads it wrote (`worker/ingest/recall.ts`),
 *     as a visit's requests to one isolate are served, and with `INGEST_RECALL=off`, as an isolate
 *     that reads before every write serves them. Then a returning anonymous visitor's and a lead's
 *     page view on an isolate that never served them (the worker restarted): both are guessed
 *     anonymous (`worker/ingest/anonymous-guess.ts`), the first written at once, the second's guessed
 *     batch writing nothing and reading the lead, then written; and each one's second page view
 *     there, once the isolate has met the site's pages (the throughput runs below are such isolates).
 *  2. Collect's requests/s and events/s, batches of 1 and of 10 page views from 2,000 visitors (a
 *     third of them identified leads), each of whom has sent a first page view before the timed
 *     runs, against the floor: `bench/floor`, a worker on the same local
 *     D1 whose fetch does only the `DB.batch()` insert of the same events. Collect three times:
 *     recalling, with `INGEST_RECALL=off`, and through visitors' Durable Objects (wrangler.toml's
 *     commented `VISITOR_INGEST` block in force). The four run side by side, each a worker of its
 *     own on a copy of the same local D1 (two workerd on one SQLite file block each other), and take
 *     turns in slices of SLICE seconds, each slice in another order: a change in the machine's speed
 *     falls on neighbouring slices alike, and each slice of a path is set against the floor's slice
 *     of the same turn. The ratio is given over all slices and as the median and range of the
 *     slices'. Beside the rates, the CPU a request cost the path's workerd (the worker and local D1)
 *     and its `wrangler dev`'s own processes (Linux only, `bench/lib/cpu.js`): where each path's
 *     cost lies.
 *  3. The queue path (wrangler.toml's commented `EVENTS` producer and consumer, uncommented into a
 *     config of the run's own) end to end: from the first request until the consumer has stored the
 *     last event (events' `received_at`, read from D1 after the run), against the direct path.
 *
 * Rows (1.) and the queue path (3.) take one worker at a time on the local D1; throughput (2.) runs
 * its four side by side, each on its own copy. Nothing asserts on time.
 *
 *   npm run bench:cost   (DURATION seconds per throughput path and size (16), in slices of SLICE
 *                         seconds (2); CONCURRENCY requests in flight (8); VISITORS (2000); KEEP=1
 *                         keeps the local D1)
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPlatformProxy } from 'wrangler';
import { ROOT } from '../scripts/lib/root.js';
import { freePort, startStack } from '../scripts/lib/stack.js';
import { percentile, post } from '../scripts/lib/traffic.js';
import { cpuSnapshot, cpuSpent } from './lib/cpu.js';
import { startFloorWorker } from './lib/floor-worker.js';

const DURATION_S = Number(process.env.DURATION ?? 16);
const SLICE_S = Number(process.env.SLICE ?? 2);
// Each worker started adds a listener that stops it on exit (see `startStack`).
process.setMaxListeners(20);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const VISITORS = Number(process.env.VISITORS ?? 2000);
const WARMUP_S = 2;
const HISTORIES = [10, 100, 1000, 12_000];
const PAGES = ['/', '/pricing', '/blog/why-lead-scoring', '/references', '/contact'];
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

const stateDir = mkdtempSync(join(tmpdir(), 'leadscore-cost-'));
const rid = () => randomBytes(12).toString('base64url');
const int = (n) => Math.round(n).toLocaleString('en');
const dec = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tag = rid().slice(0, 6).toLowerCase();
let visitorCount = 0;

/**
 * A visitor with its own clock: its events are 7 s apart, from three days ago, so that none of
 * them is ever more than 86 page views in 10 minutes and taken for a robot (see `ingest/pace.ts`).
 */
function newVisitor(origin) {
  const n = visitorCount++;
  return { id: `${tag}-${n}-${rid().slice(0, 6)}`, n, origin, ip: `198.18.${(n >> 8) & 255}.${n & 255}`, clock: Date.now() - 3 * 86_400_000 };
}
const tick = (v) => (v.clock += 7000);
const pageView = (v, page = PAGES[v.clock % PAGES.length]) => ({
  id: rid(),
  type: 'page_view',
  ts: tick(v),
  visitor: v.id,
  url: `${v.origin}${page}`,
  title: `Acme ${page}`,
  referrer: `${v.origin}/`,
});
const identify = (v, email = `person${v.n}.${tag}@company${v.n % 97}.example`) => ({
  id: rid(),
  type: 'identify',
  ts: tick(v),
  visitor: v.id,
  traits: { email, jobTitle: 'Head of Marketing', companySize: 250 },
});
const headersOf = (v) => ({ 'content-type': 'text/plain;charset=UTF-8', origin: v.origin, 'user-agent': UA, 'cf-connecting-ip': v.ip });

/** wrangler.toml with one of its commented blocks (`start` to `end`) in force, paths made absolute, as `name`. */
function configWith(name, start, end, what) {
  const text = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const block = new RegExp(`${start.source}[\\s\\S]*?${end.source}`, 'm').exec(text);
  if (!block) throw new Error(`wrangler.toml's commented ${what} block was not found`);
  const config = text
    .replace(block[0], block[0].replace(/^# ?/gm, ''))
    .replace(/^main = "(.*)"$/m, (_, p) => `main = ${JSON.stringify(join(ROOT, p))}`)
    .replace(/^migrations_dir = "(.*)"$/m, (_, p) => `migrations_dir = ${JSON.stringify(join(ROOT, p))}`);
  const file = join(stateDir, name);
  writeFileSync(file, config);
  return file;
}

/** The `EVENTS` producer and consumer in force. */
const queueConfig = () => configWith('queue.wrangler.toml', /^# \[\[queues\.producers\]\]\n# binding = "EVENTS"\n/, /^# max_retries = \d+\n/, 'EVENTS queue');

/** The visitors' Durable Objects (`VISITOR_INGEST`) in force. */
const visitorObjectsConfig = () =>
  configWith('objects.wrangler.toml', /^# \[\[durable_objects\.bindings\]\]\n# name = "VISITOR_INGEST"\n/, /^# new_sqlite_classes = .*\n/, 'VISITOR_INGEST');

/** `CONCURRENCY` requests in flight for `seconds`, each of `size` page views of one visitor. */
async function hammer(url, siteKey, visitors, size, seconds, pid) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies = [];
  const statuses = {};
  let ok = 0;
  let events = 0;
  let next = 0;
  let stopping = false;
  const cpuBefore = cpuSnapshot(pid);
  const t0 = performance.now();
  const timer = setTimeout(() => (stopping = true), seconds * 1000);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (!stopping) {
        const v = visitors[next++ % visitors.length];
        const batch = Array.from({ length: size }, () => pageView(v));
        const res = await post(agent, url, headersOf(v), JSON.stringify({ site: siteKey, events: batch }));
        if (res.status === 202 && res.json?.accepted?.length === size) {
          ok++;
          events += size;
          latencies.push(res.ms);
        } else {
          statuses[res.status || res.error] = (statuses[res.status || res.error] ?? 0) + 1;
        }
      }
    }),
  );
  clearTimeout(timer);
  const s = (performance.now() - t0) / 1000;
  // After the clock: reading /proc is the bench's time, not the path's.
  const cpu = cpuSpent(cpuBefore, cpuSnapshot(pid));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { seconds: s, ok, events, rps: ok / s, eps: events / s, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors: statuses, latencies, cpu };
}

/** The slices of one path and batch size as one run: their sums, and their latencies together. */
function combined(runs) {
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const ok = runs.reduce((n, r) => n + r.ok, 0);
  const events = runs.reduce((n, r) => n + r.events, 0);
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const errors = {};
  for (const r of runs) for (const [k, n] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + n;
  let cpu = null;
  if (runs.every((r) => r.cpu)) {
    cpu = {};
    for (const r of runs) for (const [role, ms] of Object.entries(r.cpu)) cpu[role] = (cpu[role] ?? 0) + ms;
  }
  return { seconds, ok, events, rps: ok / seconds, eps: events / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors, runs, cpu };
}

/** Of the floor: over all slices, and the median and range of the slices' (each against the floor's slice of its turn). */
const ofTheFloor = (r, floor) => {
  const each = r.runs.map((run, i) => (100 * run.eps) / floor.runs[i].eps).sort((a, b) => a - b);
  return `${((100 * r.eps) / floor.eps).toFixed(0)}% (slices: median ${percentile(each, 50).toFixed(0)}%, ${each[0].toFixed(0)}–${each.at(-1).toFixed(0)}%)`;
};

const throughputRow = (path, size, r, floor) => ({
  path,
  batch: size,
  'requests/s': int(r.rps),
  'events/s': int(r.eps),
  p50: `${r.p50.toFixed(0)} ms`,
  p99: `${r.p99.toFixed(0)} ms`,
  errors: Object.keys(r.errors).length ? JSON.stringify(r.errors) : 0,
  'of the floor': floor ? ofTheFloor(r, floor) : '',
  ...cpuColumns(r),
});

/**
 * CPU milliseconds a request: the worker's workerd (the worker and local D1), and wrangler dev's
 * own proxy and Node process, which every path goes through (see `bench/lib/cpu.js`).
 */
const cpuColumns = (r) =>
  r.cpu
    ? {
        'CPU ms/request: worker': (r.cpu.worker / r.ok).toFixed(2),
        'wrangler dev': (((r.cpu.proxy ?? 0) + (r.cpu.wrangler ?? 0)) / r.ok).toFixed(2),
      }
    : {};

const ports = { workerPort: await freePort(), demoPort: await freePort() };
const floorPort = await freePort();
const load = [loadavg()[0]];
const rows = [];
/**
 * One page view of every visitor, `CONCURRENCY` in flight, untimed: the timed runs then find the
 * site mid-traffic, its visitors on their next pages rather than each on its first (a run of 15 s
 * reaches fewer requests than there are visitors).
 */
async function everyVisitorOnce(url, siteKey, visitors) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < visitors.length) {
        const v = visitors[next++];
        const res = await post(agent, url, headersOf(v), JSON.stringify({ site: siteKey, events: [pageView(v)] }));
        if (res.status !== 202) throw new Error(`a visitor's first page view failed: ${res.status || res.error}`);
      }
    }),
  );
  agent.destroy();
}

const direct = {};
const reading = {};
const objects = {};
const floor = {};
const queued = {};
const breakdowns = {};
let stack;
/** The throughput's other collect workers, side by side with `stack`. */
const sideStacks = [];
let floorWorker;
let proxy;
try {
  console.log(`${cpus().length} cores, load average ${load[0].toFixed(2)} before the run (other work on the machine skews every rate; D1 rows do not move)`);

  // 1. Rows per event, metered by the worker itself: as this isolate serves them, recalling the
  // visitors and leads it wrote (`worker/ingest/recall.ts`), then as one that reads first would,
  // then on an isolate that never served the visitors the 'off' run prepared (`elsewhere`).
  const collectUrl = `http://127.0.0.1:${ports.workerPort}/v1/collect`;
  let siteKey, apiKey, origin;
  const elsewhere = { anonymous: [], leads: [] };
  for (const [setting, fresh] of [['on', false], ['off', false], ['on', true]]) {
    const recall = fresh ? `${setting}, another isolate served the visitor` : setting;
    stack = await startStack({ ...ports, stateDir, rateLimits: false, cronEveryMs: 3_600_000, vars: { D1_METERING: 'on', INGEST_RECALL: setting } });
    ({ siteKey, apiKey } = stack);
    origin = stack.demoUrl;
    /** `scored`: the events the request scores, its own and any it brings (an identify, the visitor's past). */
    const metered = async (v, events, key = siteKey, scored = events.length) => {
      const res = await fetch(collectUrl, { method: 'POST', headers: headersOf(v), body: JSON.stringify({ site: key, events }) });
      const body = await res.json();
      if (res.status !== 202 || body.accepted?.length !== events.length) throw new Error(`collect answered ${res.status} ${JSON.stringify(body)}`);
      const m = /^read=(\d+),written=(\d+),roundtrips=(\d+)$/.exec(res.headers.get('leadscore-d1-rows') ?? '');
      if (!m) throw new Error('no Leadscore-D1-Rows header: is D1_METERING on?');
      return { events: scored, read: Number(m[1]), written: Number(m[2]), roundTrips: Number(m[3]), statements: res.headers.get('leadscore-d1-statements') };
    };
    const seed = async (v, count) => {
      for (let left = count; left > 0; left -= 100) await metered(v, Array.from({ length: Math.min(100, left) }, () => pageView(v)));
    };
    const lead = async (history) => {
      const v = newVisitor(origin);
      await metered(v, [identify(v)]);
      await seed(v, history - 1);
      return v;
    };
    // A site live for a while: its pages' shapes are known.
    const warm = newVisitor(origin);
    await metered(warm, PAGES.map((p) => pageView(warm, p)));
    let coldSites = 0;
    /**
     * A site of its own whose pages' shapes are known, as the demo site's are, and that the isolate
     * no longer holds: saving a site through /admin forgets it, so its next request looks it up.
     */
    const coldSite = async () => {
      const put = async (id) => {
        const res = await fetch(`http://127.0.0.1:${ports.workerPort}/admin/sites/${id}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'cold', origins: [origin] }),
        });
        if (!res.ok) throw new Error(`saving a site failed: ${res.status} ${await res.text()}`);
        return (await res.json()).siteKey;
      };
      const id = `cold-${tag}-${++coldSites}`;
      const key = await put(id);
      const v = newVisitor(origin);
      await metered(v, PAGES.map((p) => pageView(v, p)), key);
      await put(id);
      return key;
    };
    /** The visitor's page view on this isolate, after `before` more of them there. */
    const viewElsewhere = async (visitors, before) => {
      const v = visitors.pop();
      for (let i = 0; i < before; i++) await metered(v, [pageView(v)]);
      return metered(v, [pageView(v)]);
    };
    const cases = fresh ? [
      ['anonymous page view, a returning visitor', () => viewElsewhere(elsewhere.anonymous, 0)],
      ['page view, lead with 10 stored events', () => viewElsewhere(elsewhere.leads, 0)],
      // What an isolate new to the visitor costs once it has met it: as on the isolate that wrote it.
      // The throughput runs below are such isolates; there, until 0e20a58, every request also sent
      // its page's shape insert. Here the cases before these have read the pages' shapes first,
      // which hid it but for a lead's (4–6 rows read and written on b311291).
      ['anonymous page view, a returning visitor, its second there', () => viewElsewhere(elsewhere.anonymous, 1)],
      ['page view, lead with 10 stored events, its second there', () => viewElsewhere(elsewhere.leads, 1)],
    ] : [
      ['anonymous page view, a new visitor', async () => { const v = newVisitor(origin); return metered(v, [pageView(v)]); }],
      ["the same, the site's first request in the isolate (no cached site)", async () => { const v = newVisitor(origin); return metered(v, [pageView(v)], await coldSite()); }],
      ['anonymous page view, a returning visitor', async () => { const v = newVisitor(origin); await seed(v, 3); return metered(v, [pageView(v)]); }],
      ...[3, 12].map((n) => [`identify, after ${n} anonymous page views`, async () => { const v = newVisitor(origin); await seed(v, n); return metered(v, [identify(v)], siteKey, n + 1); }]),
      ...HISTORIES.map((n) => [`page view, lead with ${int(n)} stored events`, async () => { const v = await lead(n); return metered(v, [pageView(v)]); }]),
      ['batch of 10 page views, anonymous visitor', async () => { const v = newVisitor(origin); await seed(v, 1); return metered(v, Array.from({ length: 10 }, () => pageView(v))); }],
      ['batch of 10 page views, lead with 10 events', async () => { const v = await lead(10); return metered(v, Array.from({ length: 10 }, () => pageView(v))); }],
    ];
    const measure = async (name, run) => {
      // Three times, fresh visitors each: the figures must not depend on the run.
      const runs = [await run(), await run(), await run()];
      const range = (f) => {
        const values = runs.map(f);
        const [lo, hi] = [Math.min(...values), Math.max(...values)];
        return lo === hi ? dec(lo) : `${dec(lo)}–${dec(hi)}`;
      };
      const row = {
        request: name,
        recall,
        'scored events': runs[0].events,
        'round trips': range((r) => r.roundTrips),
        'rows read': range((r) => r.read),
        'rows written': range((r) => r.written),
        'read/event': range((r) => r.read / r.events),
        'written/event': range((r) => r.written / r.events),
      };
      rows.push(row);
      breakdowns[`${name}, recall ${recall}`] = runs[2].statements;
      console.log(`  ${name}, recall ${recall}: ${row['rows read']} read, ${row['rows written']} written, ${row['round trips']} round trips`);
    };
    for (const [name, run] of cases) await measure(name, run);
    if (setting === 'off') {
      // Three runs of each case measured on the isolate that never served them, first and next views.
      for (let i = 0; i < 6; i++) {
        const v = newVisitor(origin);
        await seed(v, 3);
        elsewhere.anonymous.push(v);
        elsewhere.leads.push(await lead(10));
      }
    }
    if (fresh) {
      await stack.stop();
      stack = undefined;
      continue;
    }
    // Whether a lead's request reads the site's other leads: the same request once the site has 1,000 more.
    for (let i = 0; i < 10; i++) {
      const group = Array.from({ length: 100 }, () => newVisitor(origin));
      await metered(group[0], group.map((v) => identify(v)));
    }
    await measure('page view, lead with 10 stored events, site with 1,000 more leads', async () => {
      const v = await lead(10);
      return metered(v, [pageView(v)]);
    });
    await stack.stop();
    stack = undefined;
  }

  // 2. Throughput, the metering off: the same traffic to collect, then to the floor.
  stack = await startStack({ ...ports, stateDir, rateLimits: false, cronEveryMs: 3_600_000 });
  const visitors = Array.from({ length: VISITORS }, () => newVisitor(origin));
  const identified = visitors.filter((v) => v.n % 3 === 0);
  for (let i = 0; i < identified.length; i += 10) {
    const group = identified.slice(i, i + 10);
    const res = await post(new Agent(), collectUrl, headersOf(group[0]), JSON.stringify({ site: siteKey, events: group.map((v) => identify(v)) }));
    if (res.status !== 202) throw new Error(`identifying the visitors failed: ${res.status}`);
  }
  await stack.stop();
  stack = undefined;
  // The four paths side by side, each on its own copy of the local D1 as the identifies left it.
  for (const copy of ['reading', 'objects', 'floor']) cpSync(stateDir, `${stateDir}-${copy}`, { recursive: true });
  const side = async (dir, options) =>
    startStack({ workerPort: await freePort(), demoPort: await freePort(), stateDir: dir, rateLimits: false, cronEveryMs: 3_600_000, extraOrigins: [origin], ...options });
  stack = await startStack({ ...ports, stateDir, rateLimits: false, cronEveryMs: 3_600_000 });
  const urlOf = (s) => `${s.workerUrl.replace('localhost', '127.0.0.1')}/v1/collect`;
  sideStacks.push(
    // The same traffic to an isolate that reads before every write: what the first requests of
    // visitors new to an isolate cost, and every request on a worker spread over many isolates.
    { path: 'collect, INGEST_RECALL=off', into: reading, stack: await side(`${stateDir}-reading`, { vars: { INGEST_RECALL: 'off' } }) },
    // Each request through its visitor's Durable Object: what the hop costs, the objects recalling
    // what the isolate would (locally one workerd serves both).
    { path: 'collect, VISITOR_INGEST', into: objects, stack: await side(`${stateDir}-objects`, { config: visitorObjectsConfig() }) },
  );
  floorWorker = await startFloorWorker({ config: 'wrangler.toml', stateDir: `${stateDir}-floor`, port: floorPort, migrate: true });
  const paths = [
    { path: 'collect', into: direct, url: collectUrl, pid: stack.pid },
    ...sideStacks.map((s) => ({ ...s, url: urlOf(s.stack), pid: s.stack.pid })),
    { path: 'floor', into: floor, url: `http://127.0.0.1:${floorPort}/`, pid: floorWorker.child.pid },
  ];
  for (const p of paths) await everyVisitorOnce(p.url, siteKey, visitors);
  const slices = Math.max(1, Math.round(DURATION_S / SLICE_S));
  for (const size of [1, 10]) {
    for (const p of paths) await hammer(p.url, siteKey, visitors, size, WARMUP_S, p.pid);
    for (let i = 0; i < slices; i++) {
      // Each turn in another order, so that no path always follows the same one.
      for (let k = 0; k < paths.length; k++) {
        const p = paths[(i + k) % paths.length];
        (p.into[size] ??= []).push(await hammer(p.url, siteKey, visitors, size, SLICE_S, p.pid));
      }
    }
    for (const p of paths) {
      const runs = p.into[size];
      console.log(`  ${p.path}, batches of ${size}: ${int(runs.reduce((n, r) => n + r.ok, 0) / runs.reduce((n, r) => n + r.seconds, 0))} requests/s`);
    }
  }
  for (const s of sideStacks.splice(0)) await s.stack.stop();
  await floorWorker.stop();
  floorWorker = undefined;
  await stack.stop();
  stack = undefined;
  for (const into of [direct, reading, objects, floor]) for (const size of [1, 10]) into[size] = combined(into[size]);

  // 3. The queue path, until stored: after each run, an identify of a new visitor goes last, and
  // the run is over when its lead exists (the local queue hands batches over one at a time, in order).
  stack = await startStack({ ...ports, stateDir, rateLimits: false, cronEveryMs: 3_600_000, config: queueConfig() });
  const drained = async () => {
    const v = newVisitor(origin);
    const email = `last${v.n}.${tag}@sentinel.example`;
    const res = await post(new Agent(), collectUrl, headersOf(v), JSON.stringify({ site: siteKey, events: [identify(v, email)] }));
    if (res.status !== 202 || !res.json?.queued) throw new Error(`the queue path did not queue: ${res.status} ${JSON.stringify(res.json)}`);
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      const list = await fetch(`http://127.0.0.1:${ports.workerPort}/v1/leads?q=${encodeURIComponent(email)}`, { headers: { authorization: `Bearer ${apiKey}` } });
      if ((await list.json()).leads?.length) return Date.now();
      await sleep(100);
    }
    throw new Error('the queued events were not stored within 10 minutes');
  };
  for (const size of [1, 10]) {
    await hammer(collectUrl, siteKey, visitors, size, WARMUP_S);
    await drained();
    const start = Date.now();
    const acked = await hammer(collectUrl, siteKey, visitors, size, DURATION_S);
    const end = await drained();
    queued[size] = { acked, start, end };
    console.log(`  queue path, batches of ${size}: ${int(acked.rps)} requests/s acknowledged; stored ${((end - start) / 1000).toFixed(1)} s after the first`);
  }
  await stack.stop();
  stack = undefined;
  load.push(loadavg()[0]);

  proxy = await getPlatformProxy({ configPath: join(ROOT, 'wrangler.toml'), persist: { path: join(stateDir, 'd1', 'v3') } });
  for (const size of [1, 10]) {
    const q = queued[size];
    // The sentinel's identify is the one event of the window that the run did not send.
    const r = await proxy.env.DB.prepare(
      `SELECT count(*) - 1 AS n, max(received_at) AS last FROM events WHERE site_id = 'demo' AND received_at BETWEEN ? AND ?`,
    )
      .bind(q.start, q.end)
      .first();
    q.stored = r.n;
    q.eps = r.n / ((r.last - q.start) / 1000);
  }
} finally {
  await proxy?.dispose().catch(() => {});
  await floorWorker?.stop();
  for (const s of sideStacks) await s.stack.stop();
  await stack?.stop();
  if (!process.env.KEEP) for (const dir of [stateDir, ...['reading', 'objects', 'floor'].map((c) => `${stateDir}-${c}`)]) rmSync(dir, { recursive: true, force: true });
}

console.log('\nD1 per collect request, from D1\'s meta (three runs, fresh visitors each; a range when they differ):');
console.table(rows);
console.log('\nstatements, in round trips ( | ) of statements ( , ), rows read/written each (the third run):');
for (const [name, statements] of Object.entries(breakdowns)) console.log(`  ${name}:\n    ${statements.replaceAll(' | ', '\n    ')}`);
console.log(`\ncollect against the floor (bench/floor: only the DB.batch() insert of the same events), ${CONCURRENCY} in flight, ${DURATION_S} s each in slices of ${SLICE_S} s:`);
console.table(
  [1, 10].flatMap((size) => [
    throughputRow('collect', size, direct[size], floor[size]),
    throughputRow('collect, INGEST_RECALL=off', size, reading[size], floor[size]),
    throughputRow('collect, VISITOR_INGEST', size, objects[size], floor[size]),
    throughputRow('floor', size, floor[size]),
  ]),
);
console.log('\nthe queue path end to end (first request to last event stored) against the direct path:');
console.table(
  [1, 10].flatMap((size) => [
    { path: 'direct', batch: size, 'events/s stored': int(direct[size].eps), 'requests/s answered': int(direct[size].rps), 'p50 answer': `${direct[size].p50.toFixed(0)} ms`, 'events acked / stored': `${int(direct[size].events)} / (at the answer)` },
    {
      path: 'queue',
      batch: size,
      'events/s stored': int(queued[size].eps),
      'requests/s answered': int(queued[size].acked.rps),
      'p50 answer': `${queued[size].acked.p50.toFixed(0)} ms`,
      'events acked / stored': `${int(queued[size].acked.events)} / ${int(queued[size].stored)}`,
    },
  ]),
);
console.log(`\nload average: ${load.map((l) => l.toFixed(2)).join(' before, ')} after`);
