#!/usr/bin/env node
/**
 * `npm run site:create -- <id> <origin>… [--name "Name"]`: creates a site on a running worker (or
 * updates its name and origins) through /admin, makes it an API key, and prints the keys and the
 * snippet tag to paste. WORKER_URL (default http://localhost:8787) and ADMIN_TOKEN (default: the
 * one `npm start` keeps in .leadscore/admin-token) say which worker.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './lib/root.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { name: { type: 'string' } } });
const [id, ...origins] = positionals;
if (!id || origins.length === 0) {
  console.error('usage: npm run site:create -- <site-id> <origin>… [--name "Site name"]\n  e.g. npm run site:create -- acme https://www.acme.example');
  process.exit(2);
}
const workerUrl = (process.env.WORKER_URL ?? 'http://localhost:8787').replace(/\/$/, '');
const tokenFile = join(ROOT, '.leadscore', 'admin-token');
const token = process.env.ADMIN_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '');
if (!token) {
  console.error('set ADMIN_TOKEN (the worker\'s secret), or run `npm start` first, which makes one');
  process.exit(2);
}

async function admin(method, path, body) {
  const res = await fetch(`${workerUrl}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).catch((err) => {
    const why = err.cause?.code ?? err.cause?.errors?.[0]?.code ?? err.message;
    console.error(`could not reach ${workerUrl} (${why}): is the worker running (npm start), or is WORKER_URL another one?`);
    process.exit(1);
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    console.error(`${res.status} from ${workerUrl}/admin${path}: ${answer.error?.message ?? res.statusText}`);
    for (const issue of answer.error?.issues ?? []) console.error(`  ${issue.path.join('.')}: ${issue.message}`);
    process.exit(1);
  }
  return answer;
}

const site = await admin('PUT', `/sites/${encodeURIComponent(id)}`, { name: values.name ?? id, origins });
const { key } = await admin('POST', `/sites/${encodeURIComponent(id)}/api-keys`, { name: 'site:create' });
console.log(`site ${id} on ${workerUrl}
site key: ${site.siteKey}
api key:  ${key}   (shown once: keep it)

Paste into every page of ${origins.join(', ')}:
<script defer src="${workerUrl}/s.js" data-site="${site.siteKey}"></script>`);
