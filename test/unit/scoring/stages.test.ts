/** Lifecycle stages: automatic ones from minimum scores, forward only, never for an excluded lead. */
import { describe, expect, it } from 'vitest';
import { STAGES, type Stage } from '../../../worker/scoring/model';
import { scoreLead } from '../../../worker/scoring/score';
import { nextStage, stageRank } from '../../../worker/scoring/stages';
import type { Profile } from '../../../worker/scoring/types';
import { DAY, T0, ev, evs, model, rule } from './fixtures';

/** fit from the profile (`fit` points), activity 10 per page view, engagement 10 per e-mail open. */
const m = model({
  dimensions: { fit: {}, activity: { halfLifeDays: 30 }, engagement: {} },
  behaviourRules: [rule('view', 10, { type: 'page_view' }), rule('open', 10, { type: 'email_open' }, { dimension: 'engagement' })],
  profileRules: [
    { id: 'fit-25', label: 'fit 25', points: 25, when: { property: 'fit', op: 'gte', value: 25 } },
    { id: 'fit-50', label: 'fit 50 more', points: 25, when: { property: 'fit', op: 'gte', value: 50 } },
  ],
  exclusions: [{ id: 'student', reason: 'Student', when: { property: 'jobTitle', op: 'contains', value: 'student' } }],
  stages: { lead: { fit: 25, activity: 30, engagement: 10 }, mql: { total: 100 } },
});
/** Scored at the time of the last event (no decay yet) unless `now` is given. */
const lead = (views: number, opens: number, profile: Profile = { fit: 25 }, stage?: Stage, now?: number) => {
  const events = [...evs(views, 'page_view'), ...evs(opens, 'email_open')];
  return scoreLead(m, events, profile, now ?? Math.max(T0, ...events.map((e) => e.ts)), stage);
};

describe('automatic stages', () => {
  it('reach `lead` when every minimum of `lead` is met, bounds included', () => {
    const s = lead(3, 1, { fit: 25 });
    expect(s.scores).toEqual({ fit: 25, activity: 30, engagement: 10 });
    expect(s.stage).toBe('lead');
  });

  it('stay at `prospect` when any one dimension is short', () => {
    expect(lead(2, 1).stage).toBe('prospect'); // activity 20
    expect(lead(3, 0).stage).toBe('prospect'); // engagement 0
    expect(lead(3, 1, {}).stage).toBe('prospect'); // fit 0
  });

  it('reach `mql` on the `total` minimum', () => {
    const s = lead(5, 0, { fit: 50 });
    expect(s.total).toBe(100);
    expect(s.stage).toBe('mql');
    expect(lead(4, 0, { fit: 50 }).stage).toBe('prospect'); // total 90, engagement 0
  });

  it('give the highest stage whose minimums hold, even if a lower one does not', () => {
    // total 110 with engagement 0: `lead` is not met, `mql` is.
    expect(lead(6, 0, { fit: 50 }).stage).toBe('mql');
    // both met: mql.
    expect(lead(5, 1, { fit: 50 }).stage).toBe('mql');
  });

  it('are decided on the rounded scores (to the hundredth)', () => {
    const exact = (points: number) =>
      scoreLead(
        model({ behaviourRules: [rule('r', points, { type: 'x' })], stages: { lead: { activity: 10 }, mql: { total: 1e9 } } }),
        [ev('x')],
        {},
        T0,
      );
    expect(exact(9.996).scores.activity).toBe(10);
    expect(exact(9.996).stage).toBe('lead');
    expect(exact(9.994).stage).toBe('prospect');
  });
});

describe('forward only', () => {
  it('keeps a lead at `mql` when its score drops (decay)', () => {
    const first = lead(5, 0, { fit: 50 });
    expect(first.stage).toBe('mql');
    const later = lead(5, 0, { fit: 50 }, first.stage, T0 + 300 * DAY);
    expect(later.total).toBeLessThan(100);
    expect(later.stage).toBe('mql');
    expect(lead(5, 0, { fit: 50 }, 'prospect', T0 + 300 * DAY).stage).toBe('prospect');
  });

  it('keeps a lead at `mql` when its profile no longer fits', () => {
    expect(lead(0, 0, {}, 'mql').stage).toBe('mql');
    expect(lead(0, 0, {}, 'lead').stage).toBe('lead');
  });

  it('keeps a stage sales gave (sql, opportunity, customer) whatever the score', () => {
    for (const given of ['sql', 'opportunity', 'customer'] as const) {
      expect(lead(0, 0, {}, given).stage).toBe(given);
      expect(lead(20, 5, { fit: 50 }, given).stage).toBe(given);
    }
  });

  it('moves a `lead` on to `mql` when it gets there', () => {
    expect(lead(5, 1, { fit: 50 }, 'lead').stage).toBe('mql');
  });

  it('starts at `prospect` when no stage is given', () => {
    expect(lead(0, 0, {}).stage).toBe('prospect');
  });
});

describe('recycled leads', () => {
  // Five page views and an open: activity 50, engagement 10, with fit 50 a total of 110, an MQL.
  const before = [...evs(5, 'page_view'), ...evs(1, 'email_open')];
  const recycledAt = T0 + DAY;
  const after = (views: number) => evs(views, 'page_view', recycledAt + 1000);

  it('move up again on what they do after sales recycled them, not on the points that made them MQL', () => {
    expect(scoreLead(m, before, { fit: 50 }, recycledAt, 'lead').stage).toBe('mql');
    const again = (views: number) => scoreLead(m, [...before, ...after(views)], { fit: 50 }, recycledAt + DAY, 'lead', recycledAt);
    // Their scores and band count every event; the stage, only those since.
    expect(again(1).total).toBeGreaterThan(100);
    expect(again(1).stage).toBe('lead');
    expect(again(4).stage).toBe('lead'); // since: fit 50 + activity 40, less a day's decay
    expect(again(6).stage).toBe('mql'); // since: fit 50 + activity 60, less a day's decay
  });

  it('never fall back below the stage sales left them at', () => {
    expect(scoreLead(m, before, {}, recycledAt + DAY, 'lead', recycledAt).stage).toBe('lead');
  });

  it('see an event stamped at the moment of the recycling as after it', () => {
    expect(scoreLead(m, evs(6, 'page_view', recycledAt), { fit: 50 }, recycledAt + DAY, 'lead', recycledAt).stage).toBe('mql');
  });
});

describe('excluded leads', () => {
  it('do not advance, however high their score', () => {
    const s = lead(20, 5, { fit: 50, jobTitle: 'Student' });
    expect(s.total).toBeGreaterThan(100);
    expect(s.exclusion?.ruleId).toBe('student');
    expect(s.stage).toBe('prospect');
    expect(lead(20, 5, { fit: 50, jobTitle: 'Student' }, 'lead').stage).toBe('lead');
  });

  it('are not moved back either', () => {
    expect(lead(0, 0, { jobTitle: 'Student' }, 'mql').stage).toBe('mql');
    expect(lead(0, 0, { jobTitle: 'Student' }, 'customer').stage).toBe('customer');
  });
});

describe('nextStage', () => {
  const scores = { fit: 30, activity: 30, engagement: 10 };

  it('returns the higher of the reached stage and the current one', () => {
    expect(nextStage(m, scores, 70, false, 'prospect')).toBe('lead');
    expect(nextStage(m, scores, 100, false, 'prospect')).toBe('mql');
    expect(nextStage(m, scores, 100, false, 'sql')).toBe('sql');
    expect(nextStage(m, { fit: 0, activity: 0, engagement: 0 }, 0, false, 'lead')).toBe('lead');
    expect(nextStage(m, scores, 100, true, 'lead')).toBe('lead');
  });

  it('treats a missing minimum as met', () => {
    const onlyTotal = model({ stages: { lead: { total: 10 }, mql: { total: 1e9 } } });
    expect(nextStage(onlyTotal, { fit: -50, activity: 60, engagement: 0 }, 10, false, 'prospect')).toBe('lead');
  });

  it('ranks stages in lifecycle order', () => {
    expect(STAGES.map(stageRank)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(STAGES).toEqual(['prospect', 'lead', 'mql', 'sql', 'opportunity', 'customer']);
  });
});
