/**
 * @module A lead's score after each of its events, as it stood at that moment: the score changes
 * of the lead's timeline. Profile points use today's profile, the only one stored.
 */
import type { Model } from './model';
import { chronological, contributions, scoreOfContributions } from './score';
import type { Profile, ScoringEvent } from './types';

export interface ScorePoint {
  eventId: string;
  ts: number;
  total: number;
  /** Change from the score just before this event, at the same moment. */
  delta: number;
}

/**
 * The last `limit` events' score points. The events' rule contributions are worked out once (see
 * `contributions`); each point then sums those before it at its own time, twice (with and without
 * its event), as `scoreLead` over the events up to it would, float for float.
 */
export function scoreHistory(model: Model, events: readonly ScoringEvent[], profile: Profile, limit: number): ScorePoint[] {
  const sorted = chronological(events);
  const made = contributions(model, sorted);
  const out: ScorePoint[] = [];
  for (let i = Math.max(0, sorted.length - limit); i < sorted.length; i++) {
    const e = sorted[i]!;
    const after = scoreOfContributions(model, made, made.ends[i]!, profile, e.ts).total;
    const before = scoreOfContributions(model, made, i > 0 ? made.ends[i - 1]! : 0, profile, e.ts).total;
    out.push({ eventId: e.id, ts: e.ts, total: after, delta: Math.round((after - before) * 100) / 100 });
  }
  return out;
}
