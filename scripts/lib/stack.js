/**
 * The local stack, for `npm start` and the browser tests alike: local D1 migrated, `wrangler dev`,
 * the demo site provisioned through /admin, and the demo website served on a second origin.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { startDemoServer } from './demo-server.js';
import { ROOT } from './root.js';

export const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
const quietEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CI: 'true' };

/**
 * wrangler's environment for a stack kept in `stateDir`. Its debug log goes there too, not to the
 * user's `~/.config/.wrangler/logs`: `wrangler dev` writes every inspector message to it, 2 to
 * 3 KB a D1 call: tens of megabytes for each worker a benchmark starts.
 */
export const wranglerEnv = (stateDir) => ({ ...quietEnv, WRANGLER_LOG_PATH: join(stateDir, 'wrangler-logs') });

/** Runs a wrangler command to its end, throwing with its output when it fails. */
export function run(args, env) {
  const r = spawnSync(WRANGLER, args, { cwd: ROOT, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrangler ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Resolves once `url` answers 2xx, throwing when `wrangler dev` (`child`, its `output`) fails first or `timeoutMs` passes. */
export async function waitFor(url, child, output, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`);
    const fatal = /Address already in use[^\n]*|✘ \[ERROR\][^\n]*/.exec(output());
    if (fatal) throw new Error(`wrangler dev failed: ${fatal[0]}`);
    try {
      // A worker that failed to build accepts the connection and never answers: time out each try.
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

/** Whether something accepts connections on the port. */
function answers(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** A value kept in the state folder across runs, made once. */
function remembered(stateDir, name, make) {
  const file = join(stateDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const value = make();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return value;
}

/** A port nobody listens on now, for tests that must not collide with a running `npm start`. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * @param {{ workerPort?: number, demoPort?: number, stateDir?: string, cronEveryMs?: number, rateLimits?: boolean, vars?: Record<string, string>, config?: string, extraOrigins?: string[] }} options
 * stateDir holds the local D1, the admin token, the demo keys and wrangler's output and debug logs; cronEveryMs is
 * how often the cron trigger is fired; rateLimits false lifts the rate limits (load benchmarks);
 * vars are passed to the worker with `--var`; config is another wrangler config than wrangler.toml
 * (a benchmark's, with the same worker and D1); extraOrigins are allowed for the demo site besides
 * its own (a benchmark's traffic, sent as from another stack's demo site).
 */
export async function startStack({ workerPort = 8787, demoPort = 8788, stateDir = join(ROOT, '.leadscore'), cronEveryMs = 60_000, rateLimits = true, vars = {}, config, extraOrigins = [] } = {}) {
  // Taken, the worker's port would have the stack wait for what already listens there (another
  // `npm start`'s worker, say) and then fail on its answers.
  for (const [port, what, variable] of [[workerPort, 'worker', 'PORT'], [demoPort, 'demo site', 'DEMO_PORT']]) {
    if (await answers(port)) throw new Error(`port ${port}, the ${what}'s, is in use: stop what listens there, or set ${variable} to another port`);
  }
  mkdirSync(stateDir, { recursive: true });
  const persistTo = join(stateDir, 'd1');
  const configArgs = config ? ['--config', config] : [];
  const env = wranglerEnv(stateDir);
  run(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo, ...configArgs], env);

  const adminToken = remembered(stateDir, 'admin-token', () => randomBytes(24).toString('hex'));
  const log = createWriteStream(join(stateDir, 'wrangler.log'), { flags: 'a' });
  let worker;
  let output = '';
  const spawnWorker = () => {
    worker = spawn(
      WRANGLER,
      [
        'dev', ...configArgs, '--ip', '127.0.0.1', '--port', String(workerPort), '--persist-to', persistTo, '--show-interactive-dev-session=false',
        '--var', `ADMIN_TOKEN:${adminToken}`, ...(rateLimits ? [] : ['--var', 'RATE_LIMITS:off']),
        ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
      ],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' },
    );
    output = '';
    for (const stream of [worker.stdout, worker.stderr]) {
      stream.pipe(log, { end: false });
      stream.on('data', (chunk) => {
        output = (output + chunk).slice(-20_000);
      });
    }
    return worker;
  };
  spawnWorker();
  const workerUrl = `http://localhost:${workerPort}`;
  const demoUrl = `http://localhost:${demoPort}`;
  const signalWorker = (signal) => {
    if (worker.exitCode !== null || worker.signalCode !== null) return;
    try {
      process.kill(-worker.pid, signal);
    } catch {
      worker.kill(signal);
    }
  };
  const stopWorker = () => signalWorker('SIGTERM');
  /** Resolves once wrangler (and the workerd holding the local D1) has exited. */
  const endWorker = async (signal) => {
    const exited = worker.exitCode !== null || worker.signalCode !== null ? Promise.resolve() : new Promise((r) => worker.once('exit', r));
    signalWorker(signal);
    await exited;
  };
  // wrangler runs in its own process group (so that workerd goes with it): never leave it behind.
  process.once('exit', stopWorker);
  try {
    await waitFor(`http://127.0.0.1:${workerPort}/s.js`, worker, () => output, 90_000);
    const admin = (path, init) =>
      fetch(`http://127.0.0.1:${workerPort}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      });
    const siteRes = await admin('/admin/sites/demo', {
      method: 'PUT',
      body: JSON.stringify({ name: 'Demo site', origins: [demoUrl, `http://127.0.0.1:${demoPort}`, ...extraOrigins] }),
    });
    if (!siteRes.ok) throw new Error(`creating the demo site failed: ${siteRes.status} ${await siteRes.text()}`);
    const { siteKey } = await siteRes.json();

    // The API key is shown once by the worker; keep it, and make a new one only when it stopped working.
    const keyFile = join(stateDir, 'demo-api-key');
    let apiKey = existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : '';
    const works = apiKey && (await fetch(`http://127.0.0.1:${workerPort}/v1/bands`, { headers: { authorization: `Bearer ${apiKey}` } })).ok;
    if (!works) {
      const keyRes = await admin('/admin/sites/demo/api-keys', { method: 'POST', body: JSON.stringify({ name: 'demo' }) });
      if (!keyRes.ok) throw new Error(`creating the demo API key failed: ${keyRes.status} ${await keyRes.text()}`);
      apiKey = (await keyRes.json()).key;
      writeFileSync(keyFile, `${apiKey}\n`, { mode: 0o600 });
    }

    const demo = await startDemoServer({ port: demoPort, siteKey, workerUrl });
    // `wrangler dev` runs the queue but not the cron trigger: fire it as Cloudflare would, so that
    // a recompute whose run stopped resumes and decayed leads move, locally too.
    const cron = setInterval(() => {
      fetch(`http://127.0.0.1:${workerPort}/cdn-cgi/handler/scheduled`, { signal: AbortSignal.timeout(cronEveryMs) }).catch(() => {});
    }, cronEveryMs);
    cron.unref();
    return {
      siteKey,
      apiKey,
      adminToken,
      /** wrangler's process, whose descendants are the worker's workerd. */
      get pid() {
        return worker.pid;
      },
      workerUrl,
      demoUrl,
      dashboardUrl: `${workerUrl}/dashboard`,
      /** Resolves once wrangler (and the workerd holding the local D1) has exited and left its port. */
      async stop() {
        clearInterval(cron);
        await demo.close();
        await endWorker('SIGTERM');
        // A stack started next on the same port must find it free (see the check in startStack).
        while (await answers(workerPort)) await new Promise((r) => setTimeout(r, 100));
      },
      /**
       * Kills the worker as a crash would: SIGKILL to wrangler's whole process group, workerd and
       * the local D1 it holds included. The demo site and the cron timer stay; `restart()` follows.
       */
      async kill() {
        await endWorker('SIGKILL');
        // wrangler is gone; its workerd, killed with it, may hold the port a moment longer.
        while (await answers(workerPort)) await new Promise((r) => setTimeout(r, 100));
      },
      /** Starts the worker again on the same port and local D1, after `kill()`. */
      async restart() {
        spawnWorker();
        try {
          await waitFor(`http://127.0.0.1:${workerPort}/s.js`, worker, () => output, 90_000);
        } catch (err) {
          stopWorker();
          throw err;
        }
      },
    };
  } catch (err) {
    stopWorker();
    throw err;
  }
}
