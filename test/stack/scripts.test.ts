/**
 * The operator's scripts when what they need is missing: each says what is wrong and what to do,
 * with no stack trace, and changes nothing.
 *
 * `npm run deploy` not logged in to Cloudflare, with the real wrangler: `wrangler whoami` answers 0
 * whether logged in or not, so the deploy used to go on to its next step and die there in a stack
 * trace. The run gets a home of its own and no Cloudflare token, so it can never reach an account.
 * `npm run site:create` with no worker where WORKER_URL says: it died in fetch's stack trace.
 * `npm start` with its worker's port taken: it waited for whatever answered there (another
 * `npm start`'s worker) and failed on its answers, a 401 in a stack trace.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ROOT } from '../../scripts/lib/root.js';
import { freePort } from '../../scripts/lib/stack.js';

const home = mkdtempSync(join(tmpdir(), 'leadscore-deploy-'));

afterAll(() => rmSync(home, { recursive: true, force: true }));

it('stops at its first step when not logged in, says what to do, and changes nothing', () => {
  const config = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const { CLOUDFLARE_API_TOKEN: _token, CLOUDFLARE_ACCOUNT_ID: _account, ...rest } = process.env;
  const env = { ...rest, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), WRANGLER_SEND_METRICS: 'false' };
  const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'deploy.js')], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });

  expect(run.status).toBe(1);
  expect(run.stderr).toContain('deploy stopped: not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN)');
  // Nothing past the account's step, and no stack trace.
  expect(run.stdout).toContain('▸ Cloudflare account');
  expect(run.stdout).not.toContain('▸ D1 database');
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')).toBe(config);
});

it('site:create with no worker at WORKER_URL says it could not reach it', async () => {
  const workerUrl = `http://127.0.0.1:${await freePort()}`;
  const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'create-site.js'), 'acme', 'https://www.acme.example'], {
    cwd: ROOT,
    env: { ...process.env, WORKER_URL: workerUrl, ADMIN_TOKEN: 'any' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr).toBe(`could not reach ${workerUrl} (ECONNREFUSED): is the worker running (npm start), or is WORKER_URL another one?\n`);
});

it('npm start with its worker port taken says which port and how to choose another', async () => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as { port: number }).port;
  try {
    // Asynchronous: the port's listener answers in this process while the script runs.
    const run = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'scripts', 'start.js')], { cwd: ROOT, env: { ...process.env, PORT: String(port), DEMO_PORT: '0' } });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('close', (status) => resolve({ status, stderr }));
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(`npm start stopped: port ${port}, the worker's, is in use: stop what listens there, or set PORT to another port\n`);
  } finally {
    taken.close();
  }
});
