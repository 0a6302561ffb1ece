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
 * `maxPoints` keep the earliest: each rule's tally is independent of the others'.
 */
function behaviourPoints(model: Model, events: readonly ScoringEvent[], now: number): BreakdownItem[] {
  const { rules, rulesFor } = ruleMatcher(model);
  const tally = rules.map(() => ({ count: 0, nominal: 0, decayed: 0, full: false }));
  for (const e of chronological(events)) {
    for (const i of rulesFor(e)) {
      const { rule, halfLifeDays, from, until } = rules[i]!;
      const t = tally[i]!;
      if (t.full || e.ts < from || e.ts >= until) continue;
      if (rule.maxTimes !== undefined && t.count >= rule.maxTimes) {
        t.full = true;
        continue;
      }
      let pts = rule.points;
      if (rule.maxPoints !== undefined) {
        const room = rule.maxPoints - Math.abs(t.nominal);
        if (room <= 0) {
          t.full = true;
          continue;
        }
        pts = Math.sign(pts) * Math.min(Math.abs(pts), room);
      }
      t.count++;
      t.nominal += pts;
      t.decayed += pts * decayWeight(halfLifeDays, e.ts, now);
    }
  }
  return rules.flatMap(({ rule }, i) => {
    const { count, decayed } = tally[i]!;
    return count ? [{ ruleId: rule.id, kind: 'behaviour' as const, label: rule.label, dimension: rule.dimension, points: decayed, count }] : [];
  });
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
    breakdown: breakdown.map((b) => ({ ...b, points: round2(b.points) })),
    raw: { decaying, fixed },
  };
}
