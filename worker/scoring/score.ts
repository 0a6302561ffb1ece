/**
 * @module The engine: a lead's scores, band, exclusion, stage and breakdown as a pure function of
 * (model, events, profile, now). Live scoring, recomputes and previews all call this one function,
 * so they cannot disagree.
 */
import { bandFor } from './bands';
import { profileMeets } from './conditions';
import { decayWeight } from './decay';
import { ruleMatcher } from './event-shapes';
import { AUTOMATIC_STAGES, DIMENSIONS, type Model, type Stage } from './model';
import { round2 } from './round';
import { nextStage, stageRank } from './stages';
import type { BreakdownItem, DimensionScores, LeadScore, Profile, ScoringEvent } from './types';

/** Events in the order they happened; the id breaks ties so that arrival order never matters. */
export function chronological<E extends ScoringEvent>(events: readonly E[]): E[] {
  const seen = new Set<string>();
  const unique = events.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
  return unique.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Points behaviour rules gave events, caps applied, in the order the events happened: the k-th
 * contribution is `points[k]` to the rule of index `rule[k]` in the matcher's list, by an event at
 * `ts[k]`. Flat arrays rather than an object each: a recompute scores a million events.
 */
export interface Contributions {
  rule: number[];
  points: number[];
  ts: number[];
  /** `ends[j]`: how many contributions the first j + 1 events made. */
  ends: number[];
}

/**
 * What each event gave each rule, events taken in the order they happened so that `maxTimes` and
 * `maxPoints` keep the earliest: each rule's tally is independent of the others'. The contributions
 * of the events up to any one are thus a prefix of the whole: what scoring those events alone
 * would have given, caps included.
 */
export function contributions(model: Model, sorted: readonly ScoringEvent[]): Contributions {
  const { rules, rulesFor } = ruleMatcher(model);
  const count = new Array<number>(rules.length).fill(0);
  const nominal = new Array<number>(rules.length).fill(0);
  const full = new Array<boolean>(rules.length).fill(false);
  const out: Contributions = { rule: [], points: [], ts: [], ends: [] };
  for (const e of sorted) {
    for (const i of rulesFor(e)) {
      const { rule, from, until } = rules[i]!;
      if (full[i] || e.ts < from || e.ts >= until) continue;
      if (rule.maxTimes !== undefined && count[i]! >= rule.maxTimes) {
        full[i] = true;
        continue;
      }
      let pts = rule.points;
      if (rule.maxPoints !== undefined) {
        const room = rule.maxPoints - Math.abs(nominal[i]!);
        if (room <= 0) {
          full[i] = true;
          continue;
        }
        pts = Math.sign(pts) * Math.min(Math.abs(pts), room);
      }
      count[i]!++;
      nominal[i]! += pts;
      out.rule.push(i);
      out.points.push(pts);
      out.ts.push(e.ts);
    }
    out.ends.push(out.rule.length);
  }
  return out;
}

/** Behaviour points per rule at `now`, from the first `upto` contributions, each decayed by its rule's half-life and added in order. */
function behaviourPoints(model: Model, made: Contributions, upto: number, now: number): BreakdownItem[] {
  const { rules } = ruleMatcher(model);
  const count = new Array<number>(rules.length).fill(0);
  const decayed = new Array<number>(rules.length).fill(0);
  for (let k = 0; k < upto; k++) {
    const i = made.rule[k]!;
    count[i]!++;
    decayed[i]! += made.points[k]! * decayWeight(rules[i]!.halfLifeDays, made.ts[k]!, now);
  }
  const out: BreakdownItem[] = [];
  rules.forEach(({ rule }, i) => {
    if (count[i]) out.push({ ruleId: rule.id, kind: 'behaviour', label: rule.label, dimension: rule.dimension, points: decayed[i]!, count: count[i]! });
  });
  return out;
}

/**
 * Scores one lead.
 *
 * @param stage the stage the lead has now: automatic stages only ever move it forward.
 * @param recycledAt when sales last sent the lead back to nurturing, if ever: from then on it moves
 *   up the automatic stages again on what it did since alone. Its scores and band still count every
 *   event; only the stage is decided so, or the points that made it an MQL before sales turned it
 *   down would make it one again at its next event.
 * @example scoreLead(DEFAULT_MODEL, events, { email: 'ana@acme.io', jobTitle: 'CMO' }, Date.now())
 */
export function scoreLead(
  model: Model,
  events: readonly ScoringEvent[],
  profile: Profile,
  now: number,
  stage: Stage = 'prospect',
  recycledAt: number | null = null,
): LeadScore {
  const made = contributions(model, chronological(events));
  const score = scoreOfContributions(model, made, made.rule.length, profile, now, stage);
  // Past the last automatic stage (sales moved it on since), there is no stage left to decide.
  if (recycledAt === null || stageRank(stage) >= stageRank(AUTOMATIC_STAGES.at(-1)!)) return score;
  return { ...score, stage: scoreLead(model, events.filter((e) => e.ts >= recycledAt), profile, now, stage).stage };
}

/**
 * Scores a lead from the first `upto` of its events' contributions (see `contributions`): what
 * `scoreLead` gives for the events that made them, float for float, as each rule's points are
 * decayed and added in the same order. A timeline's score after each event costs one pass over
 * numbers, not a sort and a match of every event before it.
 */
export function scoreOfContributions(
  model: Model,
  made: Contributions,
  upto: number,
  profile: Profile,
  now: number,
  stage: Stage = 'prospect',
): LeadScore {
  const breakdown = behaviourPoints(model, made, upto, now);
  for (const rule of model.profileRules) {
    if (profileMeets(rule.when, profile)) {
      breakdown.push({ ruleId: rule.id, kind: 'profile', label: rule.label, dimension: 'fit', points: rule.points, count: 1 });
    }
  }

  const raw: DimensionScores = { fit: 0, activity: 0, engagement: 0 };
  const decaying: DimensionScores = { fit: 0, activity: 0, engagement: 0 };
  const fixed: DimensionScores = { fit: 0, activity: 0, engagement: 0 };
  for (const item of breakdown) {
    raw[item.dimension] += item.points;
    const decays = item.kind === 'behaviour' && model.dimensions[item.dimension].halfLifeDays;
    (decays ? decaying : fixed)[item.dimension] += item.points;
  }
  const scores = {} as DimensionScores;
  for (const d of DIMENSIONS) {
    const max = model.dimensions[d].max;
    scores[d] = round2(max === undefined ? raw[d] : Math.min(max, raw[d]));
  }
  const total = round2(scores.fit + scores.activity + scores.engagement);

  const excludedBy = model.exclusions.find((x) => profileMeets(x.when, profile));
  const exclusion = excludedBy ? { ruleId: excludedBy.id, reason: excludedBy.reason } : null;
  return {
    scores,
    total,
    band: exclusion ? null : bandFor(model.bands, total).name,
    exclusion,
    stage: nextStage(model, scores, total, exclusion !== null, stage),
    // Rounded in place: the items are this call's own, and their exact points were summed above.
    breakdown: breakdown.map((b) => ((b.points = round2(b.points)), b)),
    raw: { decaying, fixed },
  };
}
