/**
 * @module The engine: a lead's scores, band, exclusion, stage and breakdown as a pure function of
 * (model, events, profile, now). Live scoring, recomputes and previews all call this one function,
 * so they cannot disagree.
 */
import { bandFor } from './bands';
import { profileMeets } from './conditions';
import { decayWeight } from './decay';
import { ruleMatcher } from './event-shapes';
import { DIMENSIONS, type Model, type Stage } from './model';
import { round2 } from './round';
import { nextStage } from './stages';
import type { BreakdownItem, DimensionScores, LeadScore, Profile, ScoringEvent } from './types';

/** Events in the order they happened; the id breaks ties so that arrival order never matters. */
export function chronological(events: readonly ScoringEvent[]): ScoringEvent[] {
  const seen = new Set<string>();
  const unique = events.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
  return unique.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Behaviour points per rule, events taken in the order they happened so that `maxTimes` and
 * `maxPoints` keep the earliest: each rule's tally is independent of the others'. Tallies are kept
 * in flat arrays: a recompute runs this for every lead of a site, and objects per rule and lead
 * were a fifth of its time in garbage collection.
 */
function behaviourPoints(model: Model, events: readonly ScoringEvent[], now: number): BreakdownItem[] {
  const { rules, rulesFor } = ruleMatcher(model);
  const count = new Array<number>(rules.length).fill(0);
  const nominal = new Array<number>(rules.length).fill(0);
  const decayed = new Array<number>(rules.length).fill(0);
  const full = new Array<boolean>(rules.length).fill(false);
  for (const e of chronological(events)) {
    for (const i of rulesFor(e)) {
      const { rule, halfLifeDays, from, until } = rules[i]!;
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
      decayed[i]! += pts * decayWeight(halfLifeDays, e.ts, now);
    }
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
 * @example scoreLead(DEFAULT_MODEL, events, { email: 'ana@acme.io', jobTitle: 'CMO' }, Date.now())
 */
export function scoreLead(
  model: Model,
  events: readonly ScoringEvent[],
  profile: Profile,
  now: number,
  stage: Stage = 'prospect',
): LeadScore {
  const breakdown = behaviourPoints(model, events, now);
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
