/** When decay alone next moves a lead: the time the cron job reads from the index. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { earliest, nextChangeAt, nextRefreshAt, nextWake, nextWakeAt, scoreStep } from '../../../worker/scoring/next-change';
import { AUTOMATIC_STAGES, DIMENSIONS, type Model } from '../../../worker/scoring/model';
import { scoreLead } from '../../../worker/scoring/score';
import type { LeadScore } from '../../../worker/scoring/types';
import { eventsArb, modelArb, nowArb, profileArb, stageArb } from './arbitraries';
import { DAY, T0, ev, model, rule } from './fixtures';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
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

  it('finds a band entered for a few days only, as negative points fade faster than positive ones', () => {
    // 20 fit points, 35 activity points halving every 2 days, -60 engagement points halving every
    // day: -5 at first, warm from about 76 h to 96 h, then back to cold for good. Looking at whole
    // hours doubled (64 h, then 128 h), as the search did before, sees cold throughout.
    const m = model({
      dimensions: { fit: {}, activity: { halfLifeDays: 2 }, engagement: { halfLifeDays: 1 } },
      behaviourRules: [rule('visit', 35, { type: 'page_view' }), rule('loss', -60, { type: 'unsubscribe' }, { dimension: 'engagement' })],
      profileRules: [{ id: 'cmo', label: 'CMO', points: 20, when: { property: 'jobTitle', op: 'equals', value: 'CMO' } }],
    });
    const events = [ev('page_view', { ts: T0 }), ev('unsubscribe', { ts: T0 })];
    const score = scoreLead(m, events, profile, T0);
    expect([score.band, score.total]).toEqual(['cold', -5]);
    const t = nextChangeAt(m, score, T0)!;
    expect((t - T0) / HOUR).toBeGreaterThan(70);
    expect((t - T0) / HOUR).toBeLessThan(80);
    expect(scoreLead(m, events, profile, t).band).toBe('warm');
    expect(scoreLead(m, events, profile, t - MINUTE).band).toBe('cold');
    // Woken then, the lead is given the minute it leaves the band again.
    const back = nextChangeAt(m, scoreLead(m, events, profile, t), t)!;
    expect((back - T0) / HOUR).toBeGreaterThan(90);
    expect(scoreLead(m, events, profile, back).band).toBe('cold');
    expect(scoreLead(m, events, profile, back - MINUTE).band).toBe('warm');
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

describe('nextRefreshAt', () => {
  // The default bands' scale: the highest band starts at 75, so a step is 3.75 points.
  const STEP = 3.75;

  it('is the first whole minute at which decay takes the total a step lower: not a minute before', () => {
    const now = T0 + 3 * DAY + 12_345;
    const score = scoreLead(decaying, visits, profile, now);
    const t = nextRefreshAt(decaying, score, now)!;
    expect(t % MINUTE).toBe(0);
    const step = Math.floor(score.total / STEP);
    expect(Math.floor(scoreLead(decaying, visits, profile, t).total / STEP)).toBe(step - 1);
    expect(Math.floor(scoreLead(decaying, visits, profile, t - MINUTE).total / STEP)).toBe(step);
    // Before the band changes: the score shown is refreshed on its way down.
    expect(t).toBeLessThan(nextChangeAt(decaying, score, now)!);
  });

  it('does not depend on when it is computed within a step, so a rescore with nothing new keeps it', () => {
    const now = T0 + 3 * DAY;
    const first = nextRefreshAt(decaying, scoreLead(decaying, visits, profile, now), now)!;
    for (const later of [now + 7_000, now + 59_000, first - 2 * MINUTE]) {
      expect(nextRefreshAt(decaying, scoreLead(decaying, visits, profile, later), later)).toBe(first);
    }
    // Rescored at that minute, the lead is given the next step's.
    const next = nextRefreshAt(decaying, scoreLead(decaying, visits, profile, first), first)!;
    expect(next).toBeGreaterThan(first);
  });

  it('stops once the total has settled in its last step, and is null with nothing that decays', () => {
    // 10 fit points that never decay, and 20 activity points fading: 30 at first (step 8), then
    // steps 7 down to 2 (7.5 to 11.25), where the total settles above 10, and then none.
    const events = [ev('page_view', { ts: T0 })];
    let now = T0;
    const steps: number[] = [];
    for (let t = nextRefreshAt(decaying, scoreLead(decaying, events, profile, now), now); t !== null; ) {
      now = t;
      const score = scoreLead(decaying, events, profile, now);
      steps.push(Math.floor(score.total / STEP));
      t = nextRefreshAt(decaying, score, now);
    }
    expect(steps).toEqual([7, 6, 5, 4, 3, 2]);
    const still = model({ behaviourRules: [rule('visit', 30, { type: 'page_view' })] });
    expect(nextRefreshAt(still, scoreLead(still, events, {}, T0), T0)).toBeNull();
  });

  it('refreshes an excluded lead too, whose band never changes: it is listed by score as well', () => {
    const m = model({ ...decaying, exclusions: [{ id: 'cmo', reason: 'Not our persona', when: { property: 'jobTitle', op: 'equals', value: 'CMO' } }] });
    const score = scoreLead(m, visits, profile, T0 + 3 * DAY);
    expect(score.exclusion).not.toBeNull();
    expect(nextChangeAt(m, score, T0 + 3 * DAY)).toBeNull();
    expect(nextRefreshAt(m, score, T0 + 3 * DAY)).not.toBeNull();
  });

  it('for random models and leads whose decaying points are all positive: the first minute the step differs, or null if it never does', () => {
    const HORIZON = 5 * 365 * DAY;
    fc.assert(
      fc.property(modelArb({ positivePoints: true }), eventsArb(), profileArb, stageArb, nowArb, (m, events, profile, stage, now) => {
        const score = scoreLead(m, events, profile, now, stage);
        const at = (t: number) => scoreStep(m, scoreLead(m, events, profile, t, score.stage).total);
        const t = nextRefreshAt(m, score, now);
        if (t === null) {
          for (const later of [now + DAY, now + 90 * DAY, now + HORIZON]) expect(at(later)).toBe(scoreStep(m, score.total));
          return;
        }
        expect(t % MINUTE).toBe(0);
        if (t - MINUTE >= now) expect(at(t - MINUTE)).toBe(scoreStep(m, score.total));
        if (events.every((e) => e.ts <= now)) expect(at(t)).toBeLessThan(scoreStep(m, score.total));
      }),
      { numRuns: 300, seed: Number(process.env.FC_SEED ?? 20_261_207) },
    );
  });
});

/**
 * Whole minutes between `now` and `until`, each some 5% further than the one before, and an hour
 * further besides while within a day of `now`: a few hundred checkpoints, dense near `now`, at which
 * a search that skipped a stretch of change would be caught.
 */
const lookouts = (now: number, until: number): number[] => {
  const out: number[] = [];
  for (let dt = MINUTE; now + dt < until; dt = Math.ceil((dt * 1.05) / MINUTE) * MINUTE + (dt < DAY ? HOUR : 0)) out.push(Math.floor((now + dt) / MINUTE) * MINUTE);
  return out.filter((t) => t > now && t < until);
};

/**
 * Within rounding of a threshold (a band's or a stage's minimum, a refresh step): where points of
 * both signs nearly cancel, the total may linger there for days, its rounded value wavering across
 * the threshold, and the searches may find any of those minutes (see `firstMinuteAcross`).
 */
const nearThreshold = (m: Model, s: LeadScore) => {
  const near = (value: number, threshold: number | undefined, by: number) => threshold !== undefined && Math.abs(value - threshold) <= by;
  return (
    m.bands.some((b) => near(s.total, b.min, 0.02)) ||
    scoreStep(m, s.total - 0.02) !== scoreStep(m, s.total + 0.02) ||
    AUTOMATIC_STAGES.some((st) => near(s.total, m.stages[st].total, 0.02) || DIMENSIONS.some((d) => near(s.scores[d], m.stages[st][d], 0.01)))
  );
};

describe('with points of both signs decaying at different rates', () => {
  const HORIZON = 5 * 365 * DAY;
  it('nextChangeAt, for random models and leads: the first minute band or stage differ, or null if they never do', () => {
    fc.assert(
      fc.property(modelArb(), eventsArb(), profileArb, stageArb, nowArb, (m, events, profile, stage, now) => {
        fc.pre(events.every((e) => e.ts <= now));
        const score = scoreLead(m, events, profile, now, stage);
        const state = (s: { band: string | null; stage: string }) => `${s.band} ${s.stage}`;
        const t = nextChangeAt(m, score, now);
        for (const before of lookouts(now, t ?? now + HORIZON)) {
          const then = scoreLead(m, events, profile, before, score.stage);
          if (state(then) !== state(score)) expect(nearThreshold(m, then)).toBe(true);
        }
        if (t === null) return;
        expect(t % MINUTE).toBe(0);
        // The engine sums each event's decayed points, the search scales their sum at `now`: at a
        // minute where a score lands on a rounding's half hundredth, the two may round apart.
        const justBefore = scoreLead(m, events, profile, t - MINUTE, score.stage);
        if (t - MINUTE > now && state(justBefore) !== state(score)) expect(nearThreshold(m, justBefore)).toBe(true);
        const then = scoreLead(m, events, profile, t, score.stage);
        if (state(then) === state(score)) expect(nearThreshold(m, then)).toBe(true);
      }),
      { numRuns: 300, seed: Number(process.env.FC_SEED ?? 20_261_207) },
    );
  });

  it('nextRefreshAt, for random models and leads: the first minute the step differs, or null if it never does', () => {
    fc.assert(
      fc.property(modelArb(), eventsArb(), profileArb, stageArb, nowArb, (m, events, profile, stage, now) => {
        fc.pre(events.every((e) => e.ts <= now));
        const score = scoreLead(m, events, profile, now, stage);
        const t = nextRefreshAt(m, score, now);
        for (const before of lookouts(now, t ?? now + HORIZON)) {
          const then = scoreLead(m, events, profile, before, score.stage);
          if (scoreStep(m, then.total) !== scoreStep(m, score.total)) expect(nearThreshold(m, then)).toBe(true);
        }
        if (t === null) return;
        expect(t % MINUTE).toBe(0);
        // As above: a score landing on a half hundredth may round apart in the engine and the search.
        const justBefore = scoreLead(m, events, profile, t - MINUTE, score.stage);
        if (t - MINUTE > now && scoreStep(m, justBefore.total) !== scoreStep(m, score.total)) expect(nearThreshold(m, justBefore)).toBe(true);
        const then = scoreLead(m, events, profile, t, score.stage);
        if (scoreStep(m, then.total) === scoreStep(m, score.total)) expect(nearThreshold(m, then)).toBe(true);
      }),
      { numRuns: 300, seed: Number(process.env.FC_SEED ?? 20_261_207) },
    );
  });
});

describe('nextWakeAt', () => {
  it('wakes at the band change when the band floor comes before the next step, and at the step otherwise', () => {
    const m = model({ dimensions: { fit: {}, activity: { halfLifeDays: 30 }, engagement: {} }, behaviourRules: [rule('visit', 26, { type: 'page_view' })] });
    // 26 points: warm (from 25), in the step from 22.5 to 26.25. The band changes first.
    const score = scoreLead(m, [ev('page_view', { ts: T0 })], {}, T0);
    const change = nextChangeAt(m, score, T0)!;
    expect(change).toBeLessThan(nextRefreshAt(m, score, T0)!);
    expect(nextWakeAt(m, score, T0, null)).toBe(change);
    // 40 points: the step down to 37.5 comes first.
    const higher = model({ ...m, behaviourRules: [rule('visit', 40, { type: 'page_view' })] });
    const score40 = scoreLead(higher, [ev('page_view', { ts: T0 })], {}, T0);
    expect(nextWakeAt(higher, score40, T0, null)).toBe(nextRefreshAt(higher, score40, T0));
    expect(nextRefreshAt(higher, score40, T0)!).toBeLessThan(nextChangeAt(higher, score40, T0)!);
  });

  // What a rescore stores, by its one search (or none): the same as the two searches composed.
  for (const positivePoints of [true, false]) {
    it(`equals nextWake over nextChangeAt and nextRefreshAt, for random models${positivePoints ? ' of positive points' : ''}, leads and stored minutes`, () => {
      fc.assert(
        fc.property(
          modelArb({ positivePoints }),
          eventsArb(),
          profileArb,
          stageArb,
          nowArb,
          fc.boolean(),
          fc.oneof(fc.constant(null), fc.integer({ min: -2 * DAY, max: 400 * DAY }), fc.constantFrom('change', 'change-1', 'change+1', 'refresh', 'horizon')),
          (m, events, profile, stage, now, recycled, pick) => {
            const score = scoreLead(m, events, profile, now, stage);
            const stages = !recycled;
            const change = nextChangeAt(m, score, now, { stages });
            const refresh = nextRefreshAt(m, score, now);
            const near = (t: number | null, d: number) => (t === null ? null : t + d);
            const stored =
              pick === null ? null
              : typeof pick === 'number' ? now + pick
              : pick === 'change' ? change
              : pick === 'change-1' ? near(change, -MINUTE)
              : pick === 'change+1' ? near(change, 1)
              : pick === 'refresh' ? refresh
              : now + 6 * 365 * DAY;
            expect(nextWakeAt(m, score, now, stored, { stages })).toBe(nextWake(stored, change, earliest(change, refresh), now));
          },
        ),
        { numRuns: 400, seed: Number(process.env.FC_SEED ?? 20_261_207) },
      );
    });
  }
});

describe('nextWake', () => {
  const now = T0;
  it('keeps the stored minute while it is ahead and no later than the next change of band or stage, even past the next refresh', () => {
    expect(nextWake(now + DAY, now + 2 * DAY, now + 2 * DAY, now)).toBe(now + DAY);
    expect(nextWake(now + DAY, now + DAY, now + DAY, now)).toBe(now + DAY);
    // The score climbed into a higher step, refreshed sooner: the stored minute, later, stands.
    expect(nextWake(now + DAY, now + 30 * DAY, now + 2 * MINUTE, now)).toBe(now + DAY);
    // Nothing will change any more: woken once, early, the lead is rescored and left alone.
    expect(nextWake(now + DAY, null, null, now)).toBe(now + DAY);
  });

  it('takes the new wake-up when the change comes first, when nothing was stored, and when the stored minute is due', () => {
    expect(nextWake(now + 2 * DAY, now + DAY, now + DAY, now)).toBe(now + DAY);
    expect(nextWake(now + 2 * DAY, now + DAY, now + HOUR, now)).toBe(now + HOUR);
    expect(nextWake(null, now + DAY, now + HOUR, now)).toBe(now + HOUR);
    expect(nextWake(null, null, null, now)).toBeNull();
    // Due: the event did what the decay job would have done; the job has nothing left to wake for but the new wake-up.
    expect(nextWake(now, now + DAY, now + HOUR, now)).toBe(now + HOUR);
    expect(nextWake(now - MINUTE, null, null, now)).toBeNull();
  });

  it('is never later than the next change, and is the stored minute or the new wake-up', () => {
    const time = fc.option(fc.integer({ min: now - 10 * DAY, max: now + 10 * DAY }), { nil: null });
    fc.assert(
      fc.property(time, time, time, (stored, change, refresh) => {
        const wake = earliest(change, refresh);
        const kept = nextWake(stored, change, wake, now);
        expect([stored, wake]).toContain(kept);
        if (change !== null) expect(kept).not.toBeNull();
        if (change !== null) expect(kept!).toBeLessThanOrEqual(change);
        if (kept !== null && kept !== wake) expect(kept).toBeGreaterThan(now);
      }),
      { numRuns: 500 },
    );
  });
});
