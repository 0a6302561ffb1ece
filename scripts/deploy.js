#!/usr/bin/env node
/**
 * `npm run deploy [-- --origin https://www.example.com [--site id] [--name "Name"]]`: everything a
 * new Cloudflare account needs, each step skipped when already done, so it is also the upgrade:
 *
 * 1. the D1 database `leadscore` (created, or found by name) and its id written into wrangler.toml;
 * 2. the `leadscore-jobs` queue that carries recomputes;
 * 3. the build, the migrations applied to the remote D1, the Worker deployed;
 * 4. the secrets ADMIN_TOKEN and SESSION_SECRET, made and stored when the Worker has none (the
 *    admin token is printed once);
 * 5. with --origin, the first site and an API key, through /admin, and the snippet tag to paste.
 *
 * It runs `wrangler` as the user is logged in (`npx wrangler login` first).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './lib/root.js';

const { values: args } = parseArgs({ options: { origin: { type: 'string', multiple: true }, site: { type: 'string' }, name: { type: 'string' } } });
const CONFIG = join(ROOT, 'wrangler.toml');
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
const NO_DATABASE = '00000000-0000-0000-0000-000000000000';

// Never a terminal on stdin: wrangler then asks nothing (an unanswered prompt would hang the deploy).
function wrangler(argv, { input = '', quiet = false } = {}) {
  console.log(`  $ wrangler ${argv.join(' ')}`);
  const r = spawnSync(WRANGLER, argv, { cwd: ROOT, input, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
  if (r.status !== 0) {
    if (quiet) return null;
    process.stderr.write(r.stdout + r.stderr);
    stop(`wrangler ${argv.join(' ')} failed (its output is above)`);
  }
  return r.stdout;
}

/** Ends the deploy with what went wrong and no stack trace: every step done is skipped next time. */
function stop(why) {
  console.error(`\ndeploy stopped: ${why}. Once it is fixed, run npm run deploy again: what is done is skipped.`);
  process.exit(1);
}

const step = (text) => console.log(`\n▸ ${text}`);

step('Cloudflare account');
// `wrangler whoami` answers 0 logged in or not: it is its text that tells.
const whoami = wrangler(['whoami'], { quiet: true });
if (whoami === null || /not authenticated/i.test(whoami)) stop('not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN)');

step('D1 database');
let config = readFileSync(CONFIG, 'utf8');
const databaseName = /database_name\s*=\s*"([^"]+)"/.exec(config)?.[1] ?? 'leadscore';
if (config.includes(NO_DATABASE)) {
  const listed = JSON.parse(wrangler(['d1', 'list', '--json']));
  let id = listed.find((d) => d.name === databaseName)?.uuid;
  if (id) console.log(`found ${databaseName} (${id})`);
  else {
    const created = wrangler(['d1', 'create', databaseName]);
    id = /"?database_id"?\s*[=:]\s*"([0-9a-f-]{36})"/.exec(created)?.[1];
    if (!id) stop(`could not read the new database's id from:\n${created}`);
    console.log(`created ${databaseName} (${id})`);
  }
  config = config.replace(NO_DATABASE, id);
  writeFileSync(CONFIG, config);
  console.log('wrote its id into wrangler.toml: commit it');
} else console.log(`wrangler.toml names ${databaseName}`);

step('Queues');
const queues = wrangler(['queues', 'list']);
for (const queue of [...config.matchAll(/^queue\s*=\s*"([^"]+)"/gm)].map((m) => m[1])) {
  if (new RegExp(`\\b${queue}\\b`).test(queues)) console.log(`${queue} exists`);
  else {
    wrangler(['queues', 'create', queue]);
    console.log(`created ${queue}`);
  }
}

step('Build, migrations, deploy');
if (spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' }).status !== 0) stop('the build failed');
wrangler(['d1', 'migrations', 'apply', 'DB', '--remote'], { input: 'y\n' });
const deployed = wrangler(['deploy']);
const workerUrl = /https:\/\/[^\s]+\.workers\.dev/.exec(deployed)?.[0] ?? process.env.WORKER_URL;
console.log(workerUrl ? `deployed at ${workerUrl}` : 'deployed (no workers.dev URL printed: set WORKER_URL to your route for the next step)');

step('Secrets');
const secrets = (JSON.parse(wrangler(['secret', 'list', '--format', 'json'])) ?? []).map((s) => s.name);
let adminToken = process.env.ADMIN_TOKEN;
if (!secrets.includes('ADMIN_TOKEN')) {
  adminToken = randomBytes(24).toString('hex');
  wrangler(['secret', 'put', 'ADMIN_TOKEN'], { input: adminToken });
  console.log(`ADMIN_TOKEN set: ${adminToken}\n  (shown once: keep it in your password manager; it unlocks /admin)`);
} else console.log('ADMIN_TOKEN is set');
if (!secrets.includes('SESSION_SECRET')) {
  wrangler(['secret', 'put', 'SESSION_SECRET'], { input: randomBytes(32).toString('base64') });
  console.log('SESSION_SECRET set');
} else console.log('SESSION_SECRET is set');

step('First site');
if (!args.origin?.length) {
  console.log(`none asked for. To add one and get its snippet tag:
  WORKER_URL=${workerUrl ?? 'https://…'} ADMIN_TOKEN=… npm run site:create -- my-site https://www.example.com`);
} else if (!workerUrl || !adminToken) {
  console.log('skipped: set WORKER_URL and ADMIN_TOKEN (the existing secret cannot be read back), then run npm run site:create');
} else {
  const site = args.site ?? new URL(args.origin[0]).hostname.replace(/^www\./, '').replace(/[^a-z0-9-]/g, '-');
  const created = spawnSync('node', [join(ROOT, 'scripts', 'create-site.js'), site, ...args.origin, ...(args.name ? ['--name', args.name] : [])], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, WORKER_URL: workerUrl, ADMIN_TOKEN: adminToken },
  });
  if (created.status !== 0) process.exit(created.status ?? 1);
}
console.log(workerUrl ? `\ndashboard: ${workerUrl}/dashboard` : '');
