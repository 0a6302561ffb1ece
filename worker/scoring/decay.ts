/** @module Exponential decay of points with age. */
const DAY_MS = 86_400_000;

/**
 * Weight of a point earned at `ts` when looked at `now`: `2^(-ageDays/halfLifeDays)`, 1 without
 * a half-life. An event stamped in the future (client clock ahead) counts as new, never above 1.
 */
export function decayWeight(halfLifeDays: number | undefined, ts: number, now: number): number {
  if (!halfLifeDays) return 1;
  const ageDays = Math.max(0, now - ts) / DAY_MS;
  return 2 ** (-ageDays / halfLifeDays);
}
