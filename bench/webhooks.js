#!/usr/bin/env node
/**
 * bench/webhooks: one trigger of a band of 10,000 leads writes 10,000 `branch.triggered`
 * transitions, fanned out to 3 subscriptions whose receiver is an HTTP server in this process; the
 * worker runs under `wrangler dev` with local D1, and the bench drives the dispatcher itself through
 * `POST /admin/dispatch`. Prints deliveries per second (from the first dispatch call to the last
 * delivery received) and the D1 rows written per delivery (the dispatcher's own count, summed over
 * the calls). The receiver verifies every signature with the `standardwebhooks` package. It never
 * asserts on time: it exits non-zero only if deliveries are missing or a signature does not verify.
 *
 *   npm run bench:webhooks             (LEADS=2000 for a quicker run; KEEP=1 keeps the local D1)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { getPlatformProxy } from 'wrangler';
import { ROOT } from '../scripts/lib/root.js';
import { freePort, startStack } from '../scripts/lib/stack.js';

const LEADS = Number(process.env.LEADS ?? 10_000);
const BAND = 'warm';
/** One subscription per path on the receiver. */
const PATHS = ['/a', '/b', '/c'];
/** Past this the bench stops dispatching and reports what arrived. */
const TIMEOUT_MS = 10 * 60_000;
const stateDir = mkdtempSync(join(tmpdir(), 'leadscore-bench-'));
const ms = (t) => `${(t / 1000).toFixed(2)} s`;
const int = (n) => Math.round(n).toLocaleString('en');

/**
 * LEADS leads on the demo site, all in BAND, written in SQL (a recursive CTE) with the band set
 * directly: scoring them through the worker is not what this bench measures. Answers the site's
 * last transition, where the subscriptions will start.
 */
async function seed(DB) {
  await DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
     INSERT INTO leads (id, site_id, email, profile, score, band, stage, created_at, updated_at)
     SELECT printf('ld_bench%07d', i), 'demo', printf('lead%d@company%d.example', i, i % 997),
            json_object('email', printf('lead%d@company%d.example', i, i % 997), 'emailDomain', printf('company%d.example', i % 997)),
            40 + i % 20, ?2, 'prospect', ?3, ?3
     FROM n`,
  )
    .bind(LEADS, BAND, Date.now())
    .run();
  return DB.prepare(`SELECT coalesce(max(seq), 0) AS seq FROM transitions WHERE site_id = 'demo'`).first('seq');
}

/**
 * The subscribers' endpoint: answers 204, and counts per path the requests, the distinct
 * `webhook-id`s (a redelivery repeats its id) and the signatures that do not verify.
 */
async function startReceiver() {
  const hooks = new Map(PATHS.map((p) => [p, { secret: '', requests: 0, ids: new Set(), badSignatures: 0 }]));
  let unique = 0;
  let lastNewAt = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const hook = hooks.get(req.url);
      if (hook) {
        hook.requests++;
        try {
          new Webhook(hook.secret).verify(Buffer.concat(chunks).toString('utf8'), req.headers);
        } catch {
          hook.badSignatures++;
        }
        const id = String(req.headers['webhook-id']);
        if (!hook.ids.has(id)) {
          hook.ids.add(id);
          unique++;
          lastNewAt = performance.now();
        }
      }
      res.writeHead(hook ? 204 : 404).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    hooks,
    unique: () => unique,
    lastNewAt: () => lastNewAt,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** A JSON request to the worker; anything but 2xx throws. */
async function api(stack, path, { token = stack.apiKey, ...init } = {}) {
  const res = await fetch(`${stack.workerUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * Runs the dispatcher, one call after the other (each works for up to ~20 s), until the receiver
 * has `expected` deliveries or the deadline passes, and sums what the calls report.
 */
async function dispatchUntil(stack, receiver, expected, deadline) {
  const sum = { calls: 0, created: 0, attempted: 0, delivered: 0, rowsWritten: 0 };
  while (receiver.unique() < expected && performance.now() < deadline) {
    const stats = await api(stack, '/admin/dispatch', { method: 'POST', token: stack.adminToken });
    sum.calls++;
    for (const k of ['created', 'attempted', 'delivered', 'rowsWritten']) sum[k] += stats[k];
    // A call that found nothing to do (the last responses still on their way): do not spin.
    if (stats.created === 0 && stats.attempted === 0) await new Promise((r) => setTimeout(r, 200));
  }
  return sum;
}

// Two workerd processes on one SQLite file block each other, so the worker (wrangler dev) and the
// direct handle on the same local D1 (getPlatformProxy) take turns.
const ports = { workerPort: await freePort(), demoPort: await freePort() };
const openD1 = () => getPlatformProxy({ configPath: join(ROOT, 'wrangler.toml'), persist: { path: join(stateDir, 'd1', 'v3') } });
// The cron would run the dispatcher too, beside the bench's calls: keep it out of the way.
const startWorker = () => startStack({ ...ports, stateDir, cronEveryMs: 3_600_000 });
let proxy;
let stack;
let receiver;
let failed = false;
try {
  await (await startWorker()).stop(); // provisions the demo site
  proxy = await openD1();
  let t = performance.now();
  const before = await seed(proxy.env.DB);
  console.log(`seeded ${int(LEADS)} leads in the band ${BAND} in ${ms(performance.now() - t)}`);
  await proxy.dispose();

  // The trigger route also runs the dispatcher in the background (waitUntil), and what that run
  // writes is reported nowhere. So the trigger comes before any subscription exists (that run finds
  // none and writes nothing), the subscriptions next; then, the worker stopped, they are moved back
  // to before the trigger (a new subscription starts after the site's latest change). Every
  // delivery is then made by the bench's /admin/dispatch calls, whose stats count every row written.
  stack = await startWorker();
  receiver = await startReceiver();
  t = performance.now();
  const { trigger } = await api(stack, `/v1/bands/${BAND}/trigger`, { method: 'POST', headers: { 'idempotency-key': `bench-${Date.now()}` } });
  const triggerMs = performance.now() - t;
  for (const path of PATHS) {
    const body = JSON.stringify({ url: `${receiver.url}${path}`, types: ['branch.triggered'] });
    const { webhook } = await api(stack, '/v1/webhooks', { method: 'POST', body });
    receiver.hooks.get(path).secret = webhook.secret;
  }
  await stack.stop();
  stack = undefined;
  proxy = await openD1();
  await proxy.env.DB.prepare(`UPDATE webhooks SET cursor = ? WHERE site_id = 'demo'`).bind(before).run();
  await proxy.dispose();

  stack = await startWorker();
  const expected = trigger.count * PATHS.length;
  const t0 = performance.now();
  const sum = await dispatchUntil(stack, receiver, expected, t0 + TIMEOUT_MS);
  const wall = (receiver.lastNewAt() || performance.now()) - t0;

  const hooks = [...receiver.hooks.values()];
  const requests = hooks.reduce((n, h) => n + h.requests, 0);
  const badSignatures = hooks.reduce((n, h) => n + h.badSignatures, 0);
  const unique = receiver.unique();
  failed = unique < expected || badSignatures > 0;
  console.log(`
transitions: ${int(trigger.count)} (the trigger request: ${ms(triggerMs)}), subscriptions: ${PATHS.length}
deliveries received: ${int(unique)} of ${int(expected)} (${PATHS.map((p) => `${p} ${int(receiver.hooks.get(p).ids.size)}`).join(', ')}), in ${int(requests)} requests: ${int(requests - unique)} duplicates
signatures that did not verify: ${badSignatures}
dispatch, first call to last delivery: ${ms(wall)}, ${int(unique / (wall / 1000))} deliveries/s
/admin/dispatch: ${sum.calls} calls, ${int(sum.created)} deliveries created, ${int(sum.attempted)} attempted, ${int(sum.delivered)} delivered, ${int(sum.rowsWritten)} D1 rows written
D1 rows written per delivery (fan-out, claim, attempt log and state, as the dispatcher counts them on local D1): ${(sum.rowsWritten / sum.delivered).toFixed(2)}`);
} finally {
  await proxy?.dispose().catch(() => {});
  await stack?.stop();
  await receiver?.close();
  if (!process.env.KEEP) rmSync(stateDir, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
