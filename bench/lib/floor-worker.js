/**
 * A floor's worker (`bench/floor/`) under `wrangler dev` on a local D1 of the benches' stacks: the
 * D1 another workerd must not hold meanwhile (two on one SQLite file block each other).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../../scripts/lib/root.js';
import { run, waitFor, WRANGLER, wranglerEnv } from '../../scripts/lib/stack.js';

/**
 * Starts the worker of `config` (a path under bench/floor) on the local D1 kept in `stateDir`, its
 * migrations applied first when `migrate`; resolves once it answers `GET /`.
 */
export async function startFloorWorker({ config, stateDir, port, migrate = false }) {
  const env = wranglerEnv(stateDir);
  const persistTo = join(stateDir, 'd1');
  const configPath = join(ROOT, 'bench', 'floor', config);
  if (migrate) run(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo, '--config', configPath], env);
  const args = ['dev', '--config', configPath, '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persistTo, '--show-interactive-dev-session=false'];
  const child = spawn(WRANGLER, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  for (const s of [child.stdout, child.stderr]) s.on('data', (c) => (output = (output + c).slice(-10_000)));
  const onExit = () => child.exitCode === null && process.kill(-child.pid, 'SIGTERM');
  process.once('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid, 'SIGTERM');
    await exited;
  };
  try {
    await waitFor(`http://127.0.0.1:${port}/`, child, () => output, 90_000);
  } catch (err) {
    await stop();
    throw new Error(`${config}: ${err.message}\n${output}`);
  }
  return { child, stop, url: `http://127.0.0.1:${port}/` };
}
