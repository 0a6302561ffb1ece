/** Decay of points with age: 2^(-ageDays/halfLifeDays), per event, none without a half-life. */
import { describe, expect, it } from 'vitest';
import { decayWeight } from '../../../worker/scoring/decay';
import { scoreLead } from '../../../worker/scoring/score';
import { DAY, HOUR, T0, ev, model, rule } from './fixtures';

describe('decayWeight', () => {
  const h = 30;

  it('is 1 at age 0, 1/2 at one half-life, 1/4 at two, 1/8 at three', () => {
    expect(decayWeight(h, T0, T0)).toBe(1);
    expect(decayWeight(h, T0, T0 + 30 * DAY)).toBeCloseTo(0.5, 12);
    expect(decayWeight(h, T0, T0 + 60 * DAY)).toBeCloseTo(0.25, 12);
    expect(decayWeight(h, T0, T0 + 90 * DAY)).toBeCloseTo(0.125, 12);
  });

  it('follows 2^(-age/halfLife) between half-lives, for fractional half-lives too', () => {
    expect(decayWeight(h, T0, T0 + 15 * DAY)).toBeCloseTo(Math.SQRT1_2, 12);
    expect(decayWeight(0.5, T0, T0 + 12 * HOUR)).toBeCloseTo(0.5, 12);
    expect(decayWeight(0.5, T0, T0 + 1 * DAY)).toBeCloseTo(0.25, 12);
  });

  it('is 1 at any age without a half-life', () => {
    expect(decayWeight(undefined, T0, T0 + 3650 * DAY)).toBe(1);
    expect(decayWeight(0, T0, T0 + 3650 * DAY)).toBe(1);
  });

  it('is 1, never above, for an event stamped in the future', () => {
    expect(decayWeight(h, T0 + 10 * DAY, T0)).toBe(1);
    expect(decayWeight(h, T0 + 1, T0)).toBe(1);
  });
});

describe('decay in scoreLead', () => {
  const m = model({
    dimensions: { fit: {}, activity: { halfLifeDays: 30 }, engagement: {} },
    behaviourRules: [
      rule('view', 40, { type: 'page_view' }),
      rule('open', 40, { type: 'email_open' }, { dimension: 'engagement' }),
    ],
    profileRules: [{ id: 'any', label: 'Any title', points: 20, when: { property: 'jobTitle', op: 'exists' } }],
  });
  const view = ev('page_view', { ts: T0 });
  const at = (now: number, events = [view]) => scoreLead(m, events, { jobTitle: 'CMO' }, now);

  it('halves the points at one half-life and quarters them at two', () => {
    expect(at(T0).scores.activity).toBe(40);
    expect(at(T0 + 30 * DAY).scores.activity).toBe(20);
    expect(at(T0 + 60 * DAY).scores.activity).toBe(10);
    expect(at(T0 + 15 * DAY).scores.activity).toBe(28.28); // 40 / √2
    expect(at(T0 + 30 * DAY).breakdown.find((b) => b.ruleId === 'view')?.points).toBe(20);
    expect(at(T0 + 15 * DAY).breakdown.find((b) => b.ruleId === 'view')?.points).toBe(28.28); // kept to the hundredth
  });

  it('leaves a dimension without a half-life, and profile points, undecayed', () => {
    const open = ev('email_open', { ts: T0 });
    const s = at(T0 + 1000 * DAY, [open]);
    expect(s.scores.engagement).toBe(40);
    expect(s.scores.fit).toBe(20);
  });

  it('decays each event by its own age', () => {
    const events = [view, ev('page_view', { ts: T0 + 30 * DAY }), ev('page_view', { ts: T0 + 60 * DAY })];
    expect(at(T0 + 60 * DAY, events).scores.activity).toBe(10 + 20 + 40);
  });

  it('counts an event stamped in the future as new: its full points, never more', () => {
    const future = ev('page_view', { ts: T0 + 10 * DAY });
    expect(at(T0, [future]).scores.activity).toBe(40);
    expect(at(T0 + 10 * DAY, [future]).scores.activity).toBe(40);
    expect(at(T0 + 40 * DAY, [future]).scores.activity).toBe(20);
  });

  it('applies maxPoints before decay: the cap is on nominal points', () => {
    const capped = model({
      dimensions: { fit: {}, activity: { halfLifeDays: 30 }, engagement: {} },
      behaviourRules: [rule('view', 20, { type: 'page_view' }, { maxPoints: 30 })],
    });
    // Chronological: the older event takes 20 nominal (10 after one half-life), the newer the 10 left.
    const events = [ev('page_view', { ts: T0 + 30 * DAY }), ev('page_view', { ts: T0 })];
    const s = scoreLead(capped, events, {}, T0 + 30 * DAY);
    expect(s.scores.activity).toBe(20);
    expect(s.breakdown[0]).toMatchObject({ ruleId: 'view', points: 20, count: 2 });
  });

  it('applies the dimension max after decay', () => {
    const capped = model({
      dimensions: { fit: {}, activity: { max: 50, halfLifeDays: 30 }, engagement: {} },
      behaviourRules: [rule('view', 40, { type: 'page_view' })],
    });
    const events = [ev('page_view', { ts: T0 }), ev('page_view', { ts: T0 + 1 })];
    expect(scoreLead(capped, events, {}, T0 + 1).scores.activity).toBe(50);
    // 80 raw points at one half-life are 40, below the max: not min(50, 80) / 2 = 25.
    expect(scoreLead(capped, events, {}, T0 + 30 * DAY + 1).scores.activity).toBe(40);
  });
});
