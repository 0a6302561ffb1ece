/** The wake-up a rescore stores: the stored one while it may stand, else the exact one. */
import { describe, expect, it } from 'vitest';
import { rescore } from '../../../worker/leads/rescore';
import { nextChangeAt, nextRefreshAt } from '../../../worker/scoring/next-change';
import { scoreLead } from '../../../worker/scoring/score';
import { DAY, T0, ev, model, rule } from '../scoring/fixtures';

const decaying = model({
  dimensions: { fit: {}, activity: { halfLifeDays: 30 }, engagement: {} },
  behaviourRules: [rule('visit', 20, { type: 'page_view' })],
});
const events = [ev('page_view', { ts: T0 }), ev('page_view', { ts: T0 + 1 }), ev('page_view', { ts: T0 + 2 })];
const now = T0 + DAY;
const state = (nextChangeAt: number | null) => ({ band: 'warm', stage: 'prospect' as const, excludedReason: null, recycledAt: null, nextChangeAt });

describe('rescore: the wake-up it stores', () => {
  const score = scoreLead(decaying, events, {}, now);
  const change = nextChangeAt(decaying, score, now)!;
  const refresh = nextRefreshAt(decaying, score, now)!;

  it('is the next refresh or change, whichever comes first, for a new lead or one with none stored', () => {
    expect(refresh).toBeLessThan(change);
    expect(rescore(decaying, 1, null, events, {}, now).values.nextChangeAt).toBe(refresh);
    expect(rescore(decaying, 1, state(null), events, {}, now).values.nextChangeAt).toBe(refresh);
  });

  it('keeps a stored minute ahead and no later than the next change, even past the next refresh: no index entry moved', () => {
    for (const stored of [now + 60_000, refresh, change - 60_000, change]) {
      expect(rescore(decaying, 1, state(stored), events, {}, now).values.nextChangeAt).toBe(stored);
    }
  });

  it('replaces a stored minute that is due, or later than the next change', () => {
    for (const stored of [now, now - DAY, change + 60_000]) {
      expect(rescore(decaying, 1, state(stored), events, {}, now).values.nextChangeAt).toBe(refresh);
    }
  });
});
