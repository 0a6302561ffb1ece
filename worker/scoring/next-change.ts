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

/** The first minute after `now` at which band or stage differ from `score`'s, or null if never (within 5 years). */
export function nextChangeAt(model: Model, score: LeadScore, now: number): number | null {
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
  const differsAt = (t: number): boolean => {
    for (const { d, fixed: f, decaying: dec, halfLifeDays, max } of moving) {
      const raw = f + dec * 2 ** (-(t - now) / 86_400_000 / halfLifeDays);
      scores[d] = round2(max === undefined ? raw : Math.min(max, raw));
    }
    // Rounded exactly as scoreLead rounds, so the time found is the time the stored band changes.
    const total = round2(scores.fit + scores.activity + scores.engagement);
    return bandFor(model.bands, total).name !== score.band || nextStage(model, scores, total, false, score.stage) !== score.stage;
  };

  if (DIMENSIONS.every((d) => decaying[d] >= 0)) {
    // Only positive points decay: scores only fall, so once band or stage differ they stay so. The
    // first whole minute at which they differ is found by bisection over the whole horizon; most
    // leads, already in the lowest band, are settled by a single look. On the minute grid, the
    // answer does not depend on `now`: a lead rescored with nothing new keeps its next change, and
    // its index entry stays untouched.
    let lo = Math.floor(now / MINUTE);
    let hi = Math.ceil((now + HORIZON) / MINUTE);
    if (!differsAt(hi * MINUTE)) return null;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (differsAt(mid * MINUTE)) hi = mid;
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
