/**
 * @module The engine: a lead's scores, band, exclusion, stage and breakdown as a pure function of
 * (model, events, profile, now). Live scoring, recomputes and previews all call this one function,
 * so they cannot disagree.
 */
import { bandFor } from './bands';
import { eventMatches, profileMeets } from './conditions';
import { decayWeight } from './decay';
import { eventFacts } from './event-facts';
import { DIMENSIONS, type BehaviourRule, type Model, type Stage } from './model';
import { nextStage } from './stages';
import type { BreakdownItem, DimensionScores, LeadScore, Profile, ScoringEvent } from './types';

const round2 = (n: number) => Math.round(n * 100) / 100 || 0;

/** Events in the order they happened; the id breaks ties so that arrival order never matters. */
export function chronological(events: readonly ScoringEvent[]): ScoringEvent[] {
  const seen = new Set<string>();
  const unique = events.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
  return unique.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function applyBehaviourRule(
  model: Model,
  rule: BehaviourRule,
  facts: ReturnType<typeof eventFacts>[],
  now: number,
): BreakdownItem | null {
  const settings = model.dimensions[rule.dimension];
  let count = 0;
  let nominal = 0;
  let decayed = 0;
  for (const f of facts) {
    if (rule.maxTimes !== undefined && count >= rule.maxTimes) break;
    if (!eventMatches(rule.when, f)) continue;
    let pts = rule.points;
    if (rule.maxPoints !== undefined) {
      const room = rule.maxPoints - Math.abs(nominal);
      if (room <= 0) break;
      pts = Math.sign(pts) * Math.min(Math.abs(pts), room);
    }
    count++;
    nominal += pts;
    decayed += pts * decayWeight(settings, f.ts, now);
  }
  if (count === 0) return null;
  return { ruleId: rule.id, kind: 'behaviour', label: rule.label, dimension: rule.dimension, points: decayed, count };
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
  const facts = chronological(events).map(eventFacts);
  const breakdown: BreakdownItem[] = [];
  for (const rule of model.behaviourRules) {
    const item = applyBehaviourRule(model, rule, facts, now);
    if (item) breakdown.push(item);
  }
  for (const rule of model.profileRules) {
    if (profileMeets(rule.when, profile)) {
      breakdown.push({ ruleId: rule.id, kind: 'profile', label: rule.label, dimension: 'fit', points: rule.points, count: 1 });
    }
  }

  const raw: DimensionScores = { fit: 0, activity: 0, engagement: 0 };
  for (const item of breakdown) raw[item.dimension] += item.points;
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
  };
}
