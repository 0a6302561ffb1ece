/**
 * @module When decay alone will next move a lead to another band or stage, or take its score a
 * step lower (when the stored score is refreshed): the decay job's wake-ups. Caps and counts do not
 * depend on the time of looking, so past `now` each dimension's decaying points only scale by
 * `2^(-Δ/halfLife)`: the searches re-evaluate three numbers, not the events.
 */
import { bandFor } from './bands';
import { AUTOMATIC_STAGES, DIMENSIONS, type Dimension, type Model } from './model';
import { round2 } from './round';
import { nextStage } from './stages';
import type { DimensionScores, LeadScore } from './types';

const MINUTE = 60_000;
const DAY = 86_400_000;
const HORIZON = 5 * 365 * DAY;

/**
 * A stored score is refreshed each time decay takes it past another step of this share of the
 * model's scale (its highest band threshold, or 100 for a model whose bands all start at 0): 3.75
 * points in the default model. Without it, a lead's stored score stayed as of its last event until
 * it crossed a band boundary, so a hot lead untouched for three months still showed, and sorted
 * at, the score it had then. A step a twentieth of the scale keeps the lists' order and the
 * scores shown within it, and costs a lead some twenty rescorings over the whole of its decay
 * (reckoned from the step, not measured).
 */
const REFRESH_SHARE = 1 / 20;

/** The size of a refresh step: kept per model, as a recompute asks it for every lead. */
const stepSizes = new WeakMap<Model, number>();
const refreshStep = (model: Model): number => {
  let size = stepSizes.get(model);
  if (size === undefined) {
    const scale = Math.max(0, ...model.bands.map((b) => Math.abs(b.min)));
    size = (scale > 0 ? scale : 100) * REFRESH_SHARE;
    stepSizes.set(model, size);
  }
  return size;
};

/** Each dimension's minimums over the automatic stages: kept per model, as a recompute asks them for every lead. */
const levelsOf = new WeakMap<Model, Record<Dimension, number[]>>();
const stageLevels = (model: Model): Record<Dimension, number[]> => {
  let levels = levelsOf.get(model);
  if (!levels) {
    levels = { fit: [], activity: [], engagement: [] };
    for (const s of AUTOMATIC_STAGES) for (const d of DIMENSIONS) if (model.stages[s][d] !== undefined) levels[d].push(model.stages[s][d]!);
    levelsOf.set(model, levels);
  }
  return levels;
};

/**
 * The step a total stands in (see `REFRESH_SHARE`), as a function of the total for the searches to
 * call: steps are fixed by the model, not by when the lead was scored, so that a lead rescored with
 * nothing new keeps its next refresh.
 */
const stepOf = (model: Model): ((total: number) => number) => {
  const size = refreshStep(model);
  return (total) => Math.floor(total / size);
};

export const scoreStep = (model: Model, total: number): number => stepOf(model)(total);

/**
 * When only positive points decay, the one way band or stage can change: the total falling below
 * its band's own `min` (bands are in increasing order; automatic stages are only ever reached, and
 * each needs minimums that held at `now`). Null for the lowest band, which never changes, and for
 * an excluded lead, which is in none.
 */
function fallingFloor(model: Model, score: LeadScore): number | null {
  if (score.exclusion) return null;
  const band = model.bands.findIndex((b) => b.name === score.band);
  return band > 0 ? model.bands[band]!.min : null;
}

/** A dimension whose decaying points move its score: `fixed + decaying · 2^(-days/halfLifeDays)`, at most `max`. */
interface Moving {
  d: Dimension;
  fixed: number;
  decaying: number;
  halfLifeDays: number;
  max: number | undefined;
}

/**
 * The lead's totals as time passes with no new event, or null when nothing in them decays. Caps and
 * counts do not depend on the time of looking, so past `now` each dimension's decaying points only
 * scale by `2^(-Δ/halfLife)`.
 */
function decayCurve(model: Model, score: LeadScore, now: number) {
  const { decaying, fixed } = score.raw;
  // Called some twenty times per search: what does not depend on `t` is taken out (a dimension
  // with nothing decaying keeps its score), and the scores object is reused.
  const scores = {} as DimensionScores;
  const moving: Moving[] = [];
  for (const d of DIMENSIONS) {
    const { halfLifeDays, max } = model.dimensions[d];
    const raw = fixed[d] + decaying[d];
    if (halfLifeDays && decaying[d] !== 0) moving.push({ d, fixed: fixed[d], decaying: decaying[d], halfLifeDays, max });
    else scores[d] = round2(max === undefined ? raw : Math.min(max, raw));
  }
  if (moving.length === 0) return null;
  return {
    scores,
    /** Only positive points decay: the total only falls. */
    falling: moving.every((m) => m.decaying > 0),
    /** The scores at `t`, into `scores`, and their total: rounded exactly as scoreLead rounds them. */
    totalAt(t: number): number {
      for (const { d, fixed: f, decaying: dec, halfLifeDays, max } of moving) {
        const raw = f + dec * 2 ** (-(t - now) / DAY / halfLifeDays);
        scores[d] = round2(max === undefined ? raw : Math.min(max, raw));
      }
      return round2(scores.fit + scores.activity + scores.engagement);
    },
    /**
     * Times after `now` that cut the horizon into stretches where the total only rises or only
     * falls, and where no dimension crosses a stage's minimum: see `turningTimes`. Every search
     * cuts the same stretches, the refresh's and a recycled lead's too, which their predicates do
     * not need: where the rounded total wavers (see `firstMinuteAcross`), other cuts could find
     * another of its minutes, and `nextWakeAt` must answer as the two searches apart do.
     */
    turns: () => turningTimes(moving, now, stageLevels(model)),
  };
}

/**
 * The days after `now` at which a dimension's raw score reaches `value`, when it ever does: its
 * decaying part shrinks towards `fixed`, so it passes each value between the two once.
 */
function reachesAt({ fixed, decaying, halfLifeDays }: Moving, value: number): number | null {
  const ratio = (value - fixed) / decaying;
  return ratio > 0 && ratio < 1 ? -halfLifeDays * Math.log2(ratio) : null;
}

/**
 * When points of both signs decay (dimensions at different half-lives), the total may rise, then
 * fall, then rise again: the times, in ms, that cut the horizon into stretches where it only rises
 * or only falls. Each dimension is monotone; its cap bends it once (where its raw score crosses
 * `max`); between bends, the total's slope is a sum of exponentials `Σ aᵢ·e^(-λᵢ·x)`, whose zeros
 * `slopeZeros` finds exactly. The times at which a dimension crosses one of its `levels` (a stage's
 * minimum, and that minus the rounding's half hundredth) cut stretches too, so that within one each
 * dimension's test against a minimum stays true or stays false.
 */
function turningTimes(moving: readonly Moving[], now: number, levels: Readonly<Record<Dimension, readonly number[]>>): number[] {
  const end = HORIZON / DAY;
  const bends = moving.flatMap((m) => (m.max === undefined ? [] : [reachesAt(m, m.max)]));
  const crossings = moving.flatMap((m) => levels[m.d].flatMap((v) => [reachesAt(m, v), reachesAt(m, v - 0.005)]));
  const cuts = [0, ...bends.filter((x): x is number => x !== null && x < end).sort((a, b) => a - b), end];
  const turns: number[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [x0, x1] = [cuts[i]!, cuts[i + 1]!];
    const mid = (x0 + x1) / 2;
    // Between bends, a capped dimension is flat; the others' slopes, merged by half-life.
    const slope = new Map<number, number>();
    for (const m of moving) {
      if (m.max !== undefined && m.fixed + m.decaying * 2 ** (-mid / m.halfLifeDays) >= m.max) continue;
      const rate = Math.LN2 / m.halfLifeDays;
      slope.set(rate, (slope.get(rate) ?? 0) - m.decaying * rate);
    }
    turns.push(...slopeZeros([...slope].map(([rate, a]) => ({ a, rate })), x0, x1));
  }
  return [...cuts.slice(1, -1), ...turns, ...crossings.filter((x): x is number => x !== null && x < end)]
    .sort((a, b) => a - b)
    .map((x) => now + x * DAY);
}

/**
 * The zeros in [x0, x1] of `Σ aᵢ·e^(-rateᵢ·x)`, by Rolle: multiplied by `e^(rate₁·x)` it has the
 * same zeros, and its derivative is a sum of one term fewer; between that derivative's zeros it is
 * monotone, so each stretch holds at most one zero, found by bisection.
 */
function slopeZeros(terms: readonly { a: number; rate: number }[], x0: number, x1: number): number[] {
  const live = terms.filter((t) => t.a !== 0).sort((p, q) => p.rate - q.rate);
  if (live.length < 2) return [];
  const [first, ...rest] = live as [{ a: number; rate: number }, ...{ a: number; rate: number }[]];
  const h = (x: number) => rest.reduce((sum, t) => sum + t.a * Math.exp(-(t.rate - first.rate) * x), first.a);
  const bounds = [x0, ...slopeZeros(rest.map((t) => ({ a: -t.a * (t.rate - first.rate), rate: t.rate - first.rate })), x0, x1), x1];
  const zeros: number[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    let [lo, hi] = [bounds[i]!, bounds[i + 1]!];
    const sign = Math.sign(h(lo));
    if (sign === 0 || sign === Math.sign(h(hi))) continue;
    // To a millisecond (in days): a stretch's bounds only decide which minutes are looked at.
    while (hi - lo > 1 / DAY) {
      const mid = (lo + hi) / 2;
      if (Math.sign(h(mid)) === sign) lo = mid;
      else hi = mid;
    }
    zeros.push(hi);
  }
  return zeros;
}

/** The last whole minute a search looks at (in minutes). */
const lastMinute = (now: number) => Math.ceil((now + HORIZON) / MINUTE);

/**
 * The first whole minute after `now` at which `after` holds, for a predicate that, once true, stays
 * true: found by bisection over the horizon, null if it never holds within it. On the minute grid
 * the answer does not depend on `now`, so a lead rescored with nothing new keeps it, and its index
 * entry stays untouched.
 */
function firstMinute(now: number, after: (t: number) => boolean): number | null {
  let lo = Math.floor(now / MINUTE);
  let hi = lastMinute(now);
  if (!after(hi * MINUTE)) return null;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (after(mid * MINUTE)) hi = mid;
    else lo = mid;
  }
  return hi * MINUTE;
}

/**
 * The first whole minute after `now` at which `differs` holds, for a predicate that may turn true
 * and false again (points of both signs decaying), but within each stretch between `turns` turns
 * true at most once: found by looking at each stretch's first and last minute, and by bisection in
 * the first stretch whose last minute differs. Null if it never holds within the horizon. Exact on
 * the minute grid, but for the hundredths of rounding: where the total lingers within a hundredth
 * of a threshold, its rounded value may waver across it, and the minute found be one of those.
 */
function firstMinuteAcross(now: number, turns: readonly number[], differs: (t: number) => boolean): number | null {
  const end = lastMinute(now);
  // Every minute up to `checked` is known not to differ (or is not after `now`).
  let checked = Math.floor(now / MINUTE);
  for (const turn of [...turns, end * MINUTE]) {
    const last = Math.min(Math.floor(turn / MINUTE), end);
    if (last <= checked) continue;
    let lo = checked + 1;
    if (differs(lo * MINUTE)) return lo * MINUTE;
    if (differs(last * MINUTE)) {
      let hi = last;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (differs(mid * MINUTE)) hi = mid;
        else lo = mid;
      }
      return hi * MINUTE;
    }
    checked = last;
  }
  return null;
}

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
  const curve = decayCurve(model, score, now);
  if (!curve) return null;
  if (curve.falling) {
    // Scores only fall, so once band or stage differ they stay so.
    const floor = fallingFloor(model, score);
    return floor === null ? null : firstMinute(now, (t) => curve.totalAt(t) < floor);
  }
  return changeAcross(model, score, now, curve, curve.turns(), stages);
}

type Curve = NonNullable<ReturnType<typeof decayCurve>>;

/**
 * `nextChangeAt` when points of both signs decay. Within a stretch of `turns`, each dimension stays
 * on one side of every stage minimum and the total only rises or only falls: band and stage, once
 * changed, stay so until the next stretch.
 */
function changeAcross(model: Model, score: LeadScore, now: number, curve: Curve, turns: readonly number[], stages: boolean): number | null {
  return firstMinuteAcross(now, turns, (t) => {
    const total = curve.totalAt(t);
    return bandFor(model.bands, total).name !== score.band || (stages && nextStage(model, curve.scores, total, false, score.stage) !== score.stage);
  });
}

/** `nextRefreshAt` when points of both signs decay: the step, a function of the total, changes once a stretch at most. */
function refreshAcross(model: Model, score: LeadScore, now: number, curve: Curve, turns: readonly number[]): number | null {
  const stepAt = stepOf(model);
  const step = stepAt(score.total);
  return firstMinuteAcross(now, turns, (t) => stepAt(curve.totalAt(t)) !== step);
}

/**
 * The first minute after `now` at which decay takes the total to another step (see
 * `REFRESH_SHARE`), or null if it never does (within 5 years): when the stored score is rescored
 * to stay true, band and stage alike. Excluded leads too: they are listed by score as well.
 */
export function nextRefreshAt(model: Model, score: LeadScore, now: number): number | null {
  const curve = decayCurve(model, score, now);
  if (!curve) return null;
  if (!curve.falling) return refreshAcross(model, score, now, curve, curve.turns());
  const stepAt = stepOf(model);
  const step = stepAt(score.total);
  return firstMinute(now, (t) => stepAt(curve.totalAt(t)) !== step);
}

/**
 * The wake-up a rescore stores, given the one stored (see `nextWake`): the same answer as
 * `nextWake(stored, nextChangeAt(…), earliest(nextChangeAt(…), nextRefreshAt(…)), now)`, which a
 * property test checks, for less. When only positive points decay, both searches look for the first
 * minute a falling total crosses a threshold, so whether the stored minute comes no later than the
 * change is one look at the minute before it, and the first of change and refresh is one search
 * for the first of the two thresholds: a recompute, which keeps most leads' stored minute, pays one
 * evaluation a lead where the two searches cost some forty. In a probe of 20,000 leads of the
 * recompute bench's kind: 16-21 ms with the stored minute kept, 80 ms with none, against 120 ms for
 * the two searches (and 210 ms to score the leads).
 */
export function nextWakeAt(model: Model, score: LeadScore, now: number, stored: number | null, { stages = true }: { stages?: boolean } = {}): number | null {
  const curve = decayCurve(model, score, now);
  // Nothing decays: no change nor refresh to come.
  if (!curve) return nextWake(stored, null, null, now);
  if (!curve.falling) {
    // One curve and one set of stretches for both searches.
    const turns = curve.turns();
    const change = score.exclusion ? null : changeAcross(model, score, now, curve, turns, stages);
    return nextWake(stored, change, earliest(change, refreshAcross(model, score, now, curve, turns)), now);
  }
  const stepAt = stepOf(model);
  const step = stepAt(score.total);
  const floor = fallingFloor(model, score);
  if (stored !== null && stored > now) {
    // The change is the first whole minute the total is below `floor`: the stored minute comes no
    // later unless the total is already below it at the last whole minute before the stored one
    // (or at the search's last minute, past which there is no change).
    if (floor === null) return stored;
    const before = Math.min(Math.ceil(stored / MINUTE) - 1, lastMinute(now));
    if (!(curve.totalAt(before * MINUTE) < floor)) return stored;
  }
  return firstMinute(now, (t) => {
    const total = curve.totalAt(t);
    return (floor !== null && total < floor) || stepAt(total) !== step;
  });
}

/**
 * The wake-up a rescore stores for a lead that had `stored`: the stored minute while it is still
 * ahead and no later than the new next change of band or stage (`change`), else the new wake-up
 * (`wake`: that change or the next refresh, whichever comes first). The column is the decay job's
 * wake-up, which may be early but never late for a change: a lead woken early is rescored and given
 * its exact minute. SQLite rewrites an index entry whenever its column is written, and D1 bills it
 * as a row: most page views push a lead's next change later (new points take longer to decay away)
 * and its next refresh earlier (its score climbs into higher steps), and a model saved moves every
 * lead's, so keeping the stored minute saves a live event, or a recompute's lead, a row written in
 * `leads_next_change`. A refresh may then come later than its step: at the stored minute, itself no
 * later than a step's decay from the score it was computed for, or a change's.
 */
export function nextWake(stored: number | null, change: number | null, wake: number | null, now: number): number | null {
  return stored !== null && stored > now && (change === null || stored <= change) ? stored : wake;
}

/** The earlier of two wake-ups, either of which may be none. */
export const earliest = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
