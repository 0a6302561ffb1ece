/**
 * @module When decay alone will next move a lead to another band or stage. Caps and counts do not
 * depend on the time of looking, so past `now` each dimension's decaying points only scale by
 * `2^(-Δ/halfLife)`: the search re-evaluates three numbers, not the events.
 */
import { bandFor } from './bands';
import { DIMENSIONS, type Model } from './model';
import { round2 } from './round';
import { nextStage } from './stages';
import type { DimensionScores, LeadScore } from './types';

const MINUTE = 60_000;
const HORIZON = 5 * 365 * 86_400_000;

/**
 * The first minute after `now` at which band or stage differ from `score`'s, or null if never (within
 * 5 years). An event stamped ahead of `now` (a client clock ahead) counts in full until its time
 * comes, while the search decays it from `now`: the minute found is then early, never late, and the
 * lead woken early is rescored and given its next minute again.
 *
 * `stages: false` for a recycled lead, whose stage follows the events since it was recycled rather
 * than `score`'s (see `scoreLead`): the search then looks at its band alone. A recycled lead whose
 * stage only decay could raise (negative points fading) waits for its next event or recompute.
 */
export function nextChangeAt(model: Model, score: LeadScore, now: number, { stages = true }: { stages?: boolean } = {}): number | null {
  if (score.exclusion) return null;
  const { decaying, fixed } = score.raw;
  if (DIMENSIONS.every((d) => decaying[d] === 0)) return null;

  // Called some twenty times per lead by the search below: what does not depend on `t` is taken
  // out (a dimension with nothing decaying keeps its score), and the scores object is reused.
  const scores = {} as DimensionScores;
  const moving: { d: (typeof DIMENSIONS)[number]; fixed: number; decaying: number; halfLifeDays: number; max: number | undefined }[] = [];
  for (const d of DIMENSIONS) {
    const { halfLifeDays, max } = model.dimensions[d];
    const raw = fixed[d] + decaying[d];
    if (halfLifeDays && decaying[d] !== 0) moving.push({ d, fixed: fixed[d], decaying: decaying[d], halfLifeDays, max });
    else scores[d] = round2(max === undefined ? raw : Math.min(max, raw));
  }
  if (moving.length === 0) return null;
  /** The scores at `t`, into `scores`, and their total: rounded exactly as scoreLead rounds them. */
  const totalAt = (t: number): number => {
    for (const { d, fixed: f, decaying: dec, halfLifeDays, max } of moving) {
      const raw = f + dec * 2 ** (-(t - now) / 86_400_000 / halfLifeDays);
      scores[d] = round2(max === undefined ? raw : Math.min(max, raw));
    }
    return round2(scores.fit + scores.activity + scores.engagement);
  };
  const differsAt = (t: number): boolean => {
    const total = totalAt(t);
    return bandFor(model.bands, total).name !== score.band || (stages && nextStage(model, scores, total, false, score.stage) !== score.stage);
  };

  if (DIMENSIONS.every((d) => decaying[d] >= 0)) {
    // Only positive points decay: scores only fall, so once band or stage differ they stay so. The
    // stage cannot differ (automatic stages are only ever reached, and each needs minimums that
    // held at `now`), and the band only by falling below its own `min` (bands are in increasing
    // order): the lowest band never changes. The first whole minute below it is found by bisection
    // over the whole horizon. On the minute grid, the answer does not depend on `now`: a lead
    // rescored with nothing new keeps its next change, and its index entry stays untouched.
    const band = model.bands.findIndex((b) => b.name === score.band);
    if (band <= 0) return null;
    const floor = model.bands[band]!.min;
    const fallenAt = (t: number) => totalAt(t) < floor;
    let lo = Math.floor(now / MINUTE);
    let hi = Math.ceil((now + HORIZON) / MINUTE);
    if (!fallenAt(hi * MINUTE)) return null;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (fallenAt(mid * MINUTE)) hi = mid;
      else lo = mid;
    }
    return hi * MINUTE;
  }
  let lo = now;
  let hi: number | null = null;
  for (let step = MINUTE * 60; step <= HORIZON; step *= 2) {
    if (differsAt(now + step)) {
      hi = now + step;
      break;
    }
    lo = now + step;
  }
  if (hi === null) return null;
  while (hi - lo > MINUTE) {
    const mid = Math.floor((lo + hi) / 2);
    if (differsAt(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The next change a live event stores for a lead that had `stored`, its new one being `exact`: the
 * stored minute while it is still ahead and no later than the new one, else the new one. The column
 * is the decay job's wake-up, which may be early but never late: a lead woken early is rescored and
 * given its exact minute. Most page views push a lead's next change later (new points take longer
 * to decay away), and SQLite rewrites an index entry whenever its column is written, so keeping the
 * stored minute saves a live event a row written in `leads_next_change`. Such early wake-ups come
 * no more often than the changes they were once computed for, spread as those were.
 */
export function wakeAfterEvent(stored: number | null, exact: number | null, now: number): number | null {
  return stored !== null && stored > now && (exact === null || stored <= exact) ? stored : exact;
}
