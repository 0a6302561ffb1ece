/** When decay alone next moves a lead: the time the cron job reads from the index. */
import { describe, expect, it } from 'vitest';
import { nextChangeAt } from '../../../worker/scoring/next-change';
import { scoreLead } from '../../../worker/scoring/score';
import { DAY, T0, ev, model, rule } from './fixtures';

const MINUTE = 60_000;
const decaying = model({
  dimensions: { fit: {}, activity: { halfLifeDays: 30 }, engagement: {} },
  behaviourRules: [rule('visit', 20, { type: 'page_view' }), rule('loss', -10, { type: 'unsubscribe' }, { dimension: 'engagement' })],
  profileRules: [{ id: 'cmo', label: 'CMO', points: 10, when: { property: 'jobTitle', op: 'equals', value: 'CMO' } }],
});
const visits = [ev('page_view', { ts: T0 }), ev('page_view', { ts: T0 + DAY }), ev('page_view', { ts: T0 + 2 * DAY })];
const profile = { jobTitle: 'CMO' };

describe('nextChangeAt', () => {
  it('is the first whole minute at which the band differs: not a minute before', () => {
    const now = T0 + 3 * DAY + 12_345;
    const score = scoreLead(decaying, visits, profile, now);
    expect(score.band).toBe('warm'); // 10 fit + ~56 decaying activity
    const t = nextChangeAt(decaying, score, now)!;
    expect(t % MINUTE).toBe(0);
    expect(scoreLead(decaying, visits, profile, t).band).toBe('cold');
    expect(scoreLead(decaying, visits, profile, t - MINUTE).band).toBe('warm');
  });

  it('does not depend on when it is computed, so a rescore with nothing new keeps it', () => {
    const now = T0 + 3 * DAY;
    const first = nextChangeAt(decaying, scoreLead(decaying, visits, profile, now), now);
    for (const later of [now + 7_000, now + 59_000, now + 3 * 3_600_000]) {
      expect(nextChangeAt(decaying, scoreLead(decaying, visits, profile, later), later)).toBe(first);
    }
  });

  it('is null for a lead already in the lowest band, or with nothing that decays', () => {
    const cold = [ev('page_view', { ts: T0 })];
    expect(nextChangeAt(decaying, scoreLead(decaying, cold, {}, T0), T0)).toBeNull();
    const still = model({ behaviourRules: [rule('visit', 30, { type: 'page_view' })] });
    expect(nextChangeAt(still, scoreLead(still, cold, {}, T0), T0)).toBeNull();
  });

  it('finds a rise when negative points decay', () => {
    const m = model({
      dimensions: { fit: {}, activity: {}, engagement: { halfLifeDays: 10 } },
      behaviourRules: [rule('visit', 30, { type: 'page_view' }), rule('loss', -10, { type: 'unsubscribe' }, { dimension: 'engagement' })],
    });
    const events = [ev('page_view', { ts: T0 }), ev('unsubscribe', { ts: T0 })];
    const score = scoreLead(m, events, {}, T0);
    expect(score.band).toBe('cold'); // 30 - 10
    const t = nextChangeAt(m, score, T0)!;
    expect(scoreLead(m, events, {}, t).band).toBe('warm');
    expect(scoreLead(m, events, {}, t - 2 * MINUTE).band).toBe('cold');
  });
});
