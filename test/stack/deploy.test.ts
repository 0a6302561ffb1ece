/**
 * `npm run deploy` on a machine not logged in to Cloudflare, with the real wrangler: it must stop
 * at its first step, say why and what to do, and touch nothing. `wrangler whoami` answers 0 whether
 * logged in or not, so the deploy used to go on to its next step and die there in a stack trace.
 * The run gets a home of its own and no Cloudflare token, so it can never reach an account.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ROOT } from '../../scripts/lib/root.js';

const home = mkdtempSync(join(tmpdir(), 'leadscore-deploy-'));

afterAll(() => rmSync(home, { recursive: true, force: true }));

it('stops at its first step when not logged in, says what to do, and changes nothing', () => {
  const config = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), WRANGLER_SEND_METRICS: 'false' };
  delete env.CLOUDFLARE_API_TOKEN;
  delete env.CLOUDFLARE_ACCOUNT_ID;
  const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'deploy.js')], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });

  expect(run.status).toBe(1);
  expect(run.stderr).toContain('deploy stopped: not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN)');
  // Nothing past the account's step, and no stack trace.
  expect(run.stdout).toContain('▸ Cloudflare account');
  expect(run.stdout).not.toContain('▸ D1 database');
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')).toBe(config);
});
