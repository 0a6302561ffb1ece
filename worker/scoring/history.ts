/**
 * @module A lead's score after each of its events, as it stood at that moment: the score changes
 * of the lead's timeline. Profile points use today's profile, the only one stored.
 */
import type { Model } from './model';
import { chronological, scoreLead } from './score';
import type { Profile, ScoringEvent } from './types';

export interface ScorePoint {
  eventId: string;
  ts: number;
  total: number;
  /** Change from the score just before this event, at the same moment. */
  delta: number;
}

/** The last `limit` events' score points; each costs one scoring of the events up to it. */
export function scoreHistory(model: Model, events: readonly ScoringEvent[], profile: Profile, limit: number): ScorePoint[] {
  const sorted = chronological(events);
  const out: ScorePoint[] = [];
  for (let i = Math.max(0, sorted.length - limit); i < sorted.length; i++) {
    const e = sorted[i]!;
    const after = scoreLead(model, sorted.slice(0, i + 1), profile, e.ts).total;
    const before = scoreLead(model, sorted.slice(0, i), profile, e.ts).total;
    out.push({ eventId: e.id, ts: e.ts, total: after, delta: Math.round((after - before) * 100) / 100 });
  }
  return out;
}
