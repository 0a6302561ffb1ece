/** When decay alone next moves a lead: the time the cron job reads from the index. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextChangeAt, wakeAfterEvent } from '../../../worker/scoring/next-change';
import { scoreLead } from '../../../worker/scoring/score';
import { eventsArb, modelArb, nowArb, profileArb, stageArb } from './arbitraries';
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

  it('finds a stage reached as negative points decay, the band staying the same', () => {
    const m = model({
      dimensions: { fit: {}, activity: {}, engagement: { halfLifeDays: 10 } },
      behaviourRules: [rule('visit', 25, { type: 'page_view' }), rule('loss', -10, { type: 'unsubscribe' }, { dimension: 'engagement' })],
      stages: { lead: { total: 1e9 }, mql: { total: 45 } },
    });
    const events = [ev('page_view', { ts: T0 }), ev('page_view', { ts: T0 + 1 }), ev('unsubscribe', { ts: T0 })];
    const score = scoreLead(m, events, {}, T0);
    expect([score.band, score.stage, score.total]).toEqual(['warm', 'prospect', 40]);
    const t = nextChangeAt(m, score, T0)!;
    expect(t).not.toBeNull();
    const then = scoreLead(m, events, {}, t, score.stage);
    expect([then.band, then.stage]).toEqual(['warm', 'mql']);
    expect(scoreLead(m, events, {}, t - 2 * MINUTE, score.stage).stage).toBe('prospect');
  });

  // Exact for events stamped up to `now`. An event stamped ahead (a client clock ahead) counts in
  // full until its time comes, and the search decays it from `now`: the time found is then early,
  // never late, and the lead woken early is rescored and given its next time again.
  it('for random models and leads whose decaying points are all positive: the first minute band or stage differ, or null if they never do', () => {
    const HORIZON = 5 * 365 * DAY;
    fc.assert(
      fc.property(modelArb({ positivePoints: true }), eventsArb(), profileArb, stageArb, nowArb, (m, events, profile, stage, now) => {
        const score = scoreLead(m, events, profile, now, stage);
        const state = (s: { band: string | null; stage: string }) => `${s.band} ${s.stage}`;
        // Rescored later, the lead starts from the stage it reached now.
        const at = (t: number) => state(scoreLead(m, events, profile, t, score.stage));
        const t = nextChangeAt(m, score, now);
        if (t === null) {
          for (const later of [now + DAY, now + 90 * DAY, now + HORIZON]) expect(at(later)).toBe(state(score));
          return;
        }
        expect(t % MINUTE).toBe(0);
        if (t - MINUTE >= now) expect(at(t - MINUTE)).toBe(state(score));
        if (events.every((e) => e.ts <= now)) expect(at(t)).not.toBe(state(score));
      }),
      { numRuns: 300, seed: Number(process.env.FC_SEED ?? 20_261_123) },
    );
  });
});

describe('wakeAfterEvent', () => {
  const now = T0;
  it('keeps the stored minute while it is ahead and no later than the new next change', () => {
    expect(wakeAfterEvent(now + DAY, now + 2 * DAY, now)).toBe(now + DAY);
    expect(wakeAfterEvent(now + DAY, now + DAY, now)).toBe(now + DAY);
    // Nothing will change any more: woken once, early, the lead is rescored and left alone.
    expect(wakeAfterEvent(now + DAY, null, now)).toBe(now + DAY);
  });

  it('takes the new next change when it comes first, when nothing was stored, and when the stored minute is due', () => {
    expect(wakeAfterEvent(now + 2 * DAY, now + DAY, now)).toBe(now + DAY);
    expect(wakeAfterEvent(null, now + DAY, now)).toBe(now + DAY);
    expect(wakeAfterEvent(null, null, now)).toBeNull();
    // Due: the event did what the decay job would have done; the job has nothing left to wake for.
    expect(wakeAfterEvent(now, now + DAY, now)).toBe(now + DAY);
    expect(wakeAfterEvent(now - MINUTE, null, now)).toBeNull();
  });

  it('is never later than the new next change, and is one of the two', () => {
    const time = fc.option(fc.integer({ min: now - 10 * DAY, max: now + 10 * DAY }), { nil: null });
    fc.assert(
      fc.property(time, time, (stored, exact) => {
        const wake = wakeAfterEvent(stored, exact, now);
        expect([stored, exact]).toContain(wake);
        if (exact !== null) expect(wake).not.toBeNull();
        if (exact !== null) expect(wake!).toBeLessThanOrEqual(exact);
        if (wake !== null && wake !== exact) expect(wake).toBeGreaterThan(now);
      }),
      { numRuns: 500 },
    );
  });
});
