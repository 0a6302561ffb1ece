/**
 * @module A decided lead as the models see it: the rules that fired for it, and its score, as of
 * the moment its outcome was decided (its events up to then, decay at that time).
 */
import type { Model } from '../scoring/model';
import { scoreLead } from '../scoring/score';
import type { Profile, ScoringEvent } from '../scoring/types';

/** What the report, the suggestion and the backtest need of one decided lead. */
export interface DecidedLead {
  id: string;
  events: readonly ScoringEvent[];
  profile: Profile;
  /** When its outcome was decided. */
  at: number;
  /** 1 won, 0 lost or bad fit. */
  label: 0 | 1;
}

/**
 * The lead scored as it stood when decided. Profiles are not versioned, so the profile is today's:
 * a job title changed after the outcome is read as if it had been known then.
 */
export function scoreAsDecided(model: Model, lead: DecidedLead) {
  const events = lead.events.filter((e) => e.ts <= lead.at);
  return scoreLead(model, events, lead.profile, lead.at);
}

/** Per rule id, how many times it counted for the lead (profile rules: 1). */
export function hitsAsDecided(model: Model, lead: DecidedLead): Map<string, number> {
  return new Map(scoreAsDecided(model, lead).breakdown.map((b) => [b.ruleId, b.count]));
}
