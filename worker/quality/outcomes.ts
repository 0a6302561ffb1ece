/**
 * @module A lead's outcome as sales recorded it: from its feedback history and its stage changes,
 * what it came to (won, lost, bad fit, not reached), when, and which stages it reached when.
 */
import type { Stage } from '../scoring/model';

/** What sales say a lead came to. `bad_fit` and `lost` both count against it; `not_reached` says nothing of it. */
export const OUTCOMES = ['won', 'lost', 'bad_fit', 'not_reached'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface FeedbackFact {
  fit: string | null;
  outcome: string | null;
  at: number;
}

export interface StageChange {
  to: string | null;
  at: number;
}

export interface LeadOutcome {
  /** The latest decision, or null while sales said nothing conclusive. */
  outcome: Outcome | null;
  /** When that decision was made: the lead is judged as it stood then. */
  at: number | null;
  /** Sales' latest word on fit says it does not fit (`fit: bad`, or the outcome `bad_fit`). */
  badFit: boolean;
  /** When the lead first reached each stage it reached. */
  reached: Partial<Record<Stage, number>>;
}

const isOutcome = (v: string | null): v is Outcome => (OUTCOMES as readonly string[]).includes(v ?? '');

/**
 * Decides a lead's outcome. Feedback is taken oldest first, as stored; `fit: bad` without an
 * outcome is a bad-fit verdict (the contract before outcomes had only `won` and `lost`), and
 * reaching `customer` is a win. The latest of these decisions stands, so a lead marked lost and
 * later won is won.
 */
export function leadOutcome(feedback: readonly FeedbackFact[], stageChanges: readonly StageChange[]): LeadOutcome {
  const decisions: { outcome: Outcome; at: number }[] = [];
  const reached: Partial<Record<Stage, number>> = {};
  for (const t of stageChanges) {
    const to = t.to as Stage | null;
    if (to && (reached[to] === undefined || t.at < reached[to]!)) reached[to] = t.at;
    if (to === 'customer') decisions.push({ outcome: 'won', at: t.at });
  }
  let badFit = false;
  for (const f of feedback) {
    const outcome = isOutcome(f.outcome) ? f.outcome : f.fit === 'bad' ? 'bad_fit' : null;
    if (outcome) decisions.push({ outcome, at: f.at });
    if (f.fit !== null || outcome !== null) badFit = f.fit === 'bad' || outcome === 'bad_fit';
  }
  // A stable sort: at equal times the feedback, given after the stage in the same request, wins.
  const last = [...decisions].sort((a, b) => a.at - b.at).pop();
  return { outcome: last?.outcome ?? null, at: last?.at ?? null, badFit, reached };
}

/** 1 for won, 0 for lost or bad fit, null when the outcome says nothing of the lead's worth. */
export const labelOf = (o: Outcome | null): 0 | 1 | null => (o === 'won' ? 1 : o === 'lost' || o === 'bad_fit' ? 0 : null);
