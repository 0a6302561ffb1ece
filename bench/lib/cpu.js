/**
 * CPU time spent by the processes of a local run, by role, read from Linux's `/proc`: where a
 * path's cost is, in the worker (whose workerd runs local D1 too), in `wrangler dev`'s own proxy
 * and Node process, or in the bench. On a shared machine every process slows together, so compare
 * the worker's share with the harness's of the same run rather than milliseconds across runs.
 * Only this process and its descendants are counted. Elsewhere than Linux, `cpuSnapshot` answers
 * null and the figures are left out.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks a second, in which `/proc/<pid>/stat` counts CPU time: 100 on every common Linux. */
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** The roles a local run's processes play, told apart by their command lines. */
function roleOf(name, cmdline) {
  // wrangler runs two workerd: the worker's (the one it debugs) and a proxy in front of it.
  if (name === 'workerd') return cmdline.includes('--inspector-addr') ? 'worker' : 'proxy';
  if (cmdline.includes('wrangler-dist')) return 'wrangler';
  return 'other';
}

function readProcess(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name is in parentheses and may hold spaces: the fields are read after its closing one.
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return { pid, ppid: Number(fields[1]), name, cmdline, ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS };
  } catch {
    return null; // gone meanwhile
  }
}

/**
 * CPU so far of this process and each of its descendants, by process id: its role (`worker`,
 * `proxy`, `wrangler`, `other`; `bench` for this process) and its milliseconds. With `under`, only
 * the descendants of that process (and this process): one of several workers running side by side.
 * Null off Linux.
 */
export function cpuSnapshot(under) {
  if (process.platform !== 'linux') return null;
  const all = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const p = readProcess(Number(entry));
    if (p) all.set(p.pid, p);
  }
  const root = under ?? process.pid;
  const mine = (p) => {
    for (let at = p; at; at = all.get(at.ppid)) if (at.ppid === root || (under !== undefined && at.pid === under)) return true;
    return false;
  };
  const { user, system } = process.cpuUsage();
  const snapshot = new Map([[process.pid, { role: 'bench', ms: (user + system) / 1000 }]]);
  for (const p of all.values()) if (mine(p)) snapshot.set(p.pid, { role: roleOf(p.name, p.cmdline), ms: p.ms });
  return snapshot;
}

/**
 * Milliseconds each role spent between two snapshots, over the processes alive at the second: one
 * started meanwhile counts from nothing, one ended meanwhile drops out. Null when either is null.
 */
export function cpuSpent(before, after) {
  if (!before || !after) return null;
  const byRole = {};
  for (const [pid, { role, ms }] of after) byRole[role] = (byRole[role] ?? 0) + ms - (before.get(pid)?.ms ?? 0);
  return byRole;
}
