/** Caps: maxTimes (earliest N), maxPoints (partial last event, negative rules), dimension max, negatives. */
import { describe, expect, it } from 'vitest';
import { chronological, scoreLead } from '../../../worker/scoring/score';
import { DAY, T0, ev, evs, model, rule } from './fixtures';

describe('maxTimes', () => {
  it('counts at most N matching events', () => {
    const m = model({ behaviourRules: [rule('view', 10, { type: 'page_view' }, { maxTimes: 3 })] });
    expect(scoreLead(m, evs(2, 'page_view'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: 20, count: 2 });
    expect(scoreLead(m, evs(3, 'page_view'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: 30, count: 3 });
    expect(scoreLead(m, evs(7, 'page_view'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: 30, count: 3 });
  });

  it('counts the earliest N by time, whatever the order of arrival', () => {
    // With a one-day half-life, which events counted shows in the points: ages 2, 1, 0 days weigh 1/4, 1/2, 1.
    const m = model({
      dimensions: { fit: {}, activity: { halfLifeDays: 1 }, engagement: {} },
      behaviourRules: [rule('view', 8, { type: 'page_view' }, { maxTimes: 2 })],
    });
    const newest = ev('page_view', { ts: T0 + 2 * DAY, id: 'a' });
    const middle = ev('page_view', { ts: T0 + DAY, id: 'b' });
    const oldest = ev('page_view', { ts: T0, id: 'c' });
    for (const arrival of [
      [newest, middle, oldest],
      [oldest, newest, middle],
      [middle, oldest, newest],
    ]) {
      const s = scoreLead(m, arrival, {}, T0 + 2 * DAY);
      expect(s.breakdown[0]).toMatchObject({ points: 2 + 4, count: 2 });
    }
  });

  it('counts only matching events towards N', () => {
    const m = model({ behaviourRules: [rule('pricing', 10, { path: '/pricing*' }, { maxTimes: 2 })] });
    const events = [
      ev('page_view', { path: '/blog', ts: T0 }),
      ev('page_view', { path: '/about', ts: T0 + 1 }),
      ev('page_view', { path: '/pricing', ts: T0 + 2 }),
      ev('page_view', { path: '/pricing/teams', ts: T0 + 3 }),
    ];
    expect(scoreLead(m, events, {}, T0 + 3).scores.activity).toBe(20);
  });

  it('is kept per rule: another rule on the same events counts on', () => {
    const m = model({
      behaviourRules: [rule('first-view', 50, { type: 'page_view' }, { maxTimes: 1 }), rule('view', 1, { type: 'page_view' })],
    });
    const s = scoreLead(m, evs(5, 'page_view'), {}, T0 + DAY);
    expect(s.breakdown.map((b) => [b.ruleId, b.points, b.count])).toEqual([
      ['first-view', 50, 1],
      ['view', 5, 5],
    ]);
  });
});

describe('chronological (the order in which caps take events)', () => {
  it('orders by time, then by id for events of the same time, whatever the arrival order', () => {
    const a = ev('x', { id: 'a', ts: T0 + 5 });
    const b = ev('x', { id: 'b', ts: T0 });
    const c = ev('x', { id: 'c', ts: T0 });
    const d = ev('x', { id: 'B', ts: T0 });
    const want = ['B', 'b', 'c', 'a'];
    expect(chronological([a, b, c, d]).map((e) => e.id)).toEqual(want);
    expect(chronological([c, a, d, b]).map((e) => e.id)).toEqual(want);
    expect(chronological([d, c, b, a]).map((e) => e.id)).toEqual(want);
  });

  it('keeps one event per id', () => {
    const a = ev('x', { id: 'a', ts: T0 });
    expect(chronological([a, { ...a }, ev('x', { id: 'b', ts: T0 - 1 }), { ...a }]).map((e) => e.id)).toEqual(['b', 'a']);
  });

  it('does not reorder the caller array', () => {
    const input = [ev('x', { id: 'z', ts: T0 + 1 }), ev('x', { id: 'y', ts: T0 })];
    chronological(input);
    expect(input.map((e) => e.id)).toEqual(['z', 'y']);
  });
});

describe('maxPoints', () => {
  it('limits the rule total, giving the last event only the points left', () => {
    const m = model({ behaviourRules: [rule('content', 20, { type: 'download' }, { maxPoints: 50 })] });
    expect(scoreLead(m, evs(2, 'download'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: 40, count: 2 });
    expect(scoreLead(m, evs(3, 'download'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: 50, count: 3 });
    expect(scoreLead(m, evs(6, 'download'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: 50, count: 3 });
  });

  it('counts no event past the limit when the limit is reached exactly', () => {
    const m = model({ behaviourRules: [rule('content', 25, { type: 'download' }, { maxPoints: 50 })] });
    expect(scoreLead(m, evs(4, 'download'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: 50, count: 2 });
  });

  it('limits a negative rule by the size of its total', () => {
    const m = model({ behaviourRules: [rule('unsubscribe', -30, { type: 'unsubscribe' }, { maxPoints: 50 })] });
    expect(scoreLead(m, evs(1, 'unsubscribe'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: -30, count: 1 });
    expect(scoreLead(m, evs(2, 'unsubscribe'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: -50, count: 2 });
    expect(scoreLead(m, evs(5, 'unsubscribe'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: -50, count: 2 });
  });

  it('works with maxTimes: whichever limit comes first', () => {
    const both = (maxTimes: number, maxPoints: number) =>
      model({ behaviourRules: [rule('r', 10, { type: 'x' }, { maxTimes, maxPoints })] });
    expect(scoreLead(both(2, 100), evs(5, 'x'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: 20, count: 2 });
    expect(scoreLead(both(5, 25), evs(5, 'x'), {}, T0 + DAY).breakdown[0]).toMatchObject({ points: 25, count: 3 });
  });
});

describe('dimension max', () => {
  const m = model({
    dimensions: { fit: { max: 60 }, activity: { max: 100 }, engagement: { max: 40 } },
    behaviourRules: [rule('view', 30, { type: 'page_view' }), rule('open', 15, { type: 'email_open' }, { dimension: 'engagement' })],
    profileRules: [
      { id: 'a', label: 'a', points: 40, when: { property: 'a', op: 'exists' } },
      { id: 'b', label: 'b', points: 40, when: { property: 'b', op: 'exists' } },
    ],
  });

  it('limits each dimension score and so the total; the breakdown keeps every point', () => {
    const s = scoreLead(m, [...evs(5, 'page_view'), ...evs(3, 'email_open')], { a: 1, b: 1 }, T0 + DAY);
    expect(s.scores).toEqual({ fit: 60, activity: 100, engagement: 40 });
    expect(s.total).toBe(200);
    expect(s.breakdown.map((b) => [b.ruleId, b.points])).toEqual([
      ['view', 150],
      ['open', 45],
      ['a', 40],
      ['b', 40],
    ]);
  });

  it('does not touch a score below it', () => {
    const s = scoreLead(m, [...evs(3, 'page_view'), ...evs(2, 'email_open')], { a: 1 }, T0 + DAY);
    expect(s.scores).toEqual({ fit: 40, activity: 90, engagement: 30 });
  });

  it('limits the sum of a dimension, positive and negative rules together', () => {
    const mixed = model({
      dimensions: { fit: {}, activity: { max: 50 }, engagement: {} },
      behaviourRules: [rule('view', 30, { type: 'page_view' }), rule('careers', -40, { path: '/careers*' })],
    });
    // 3 views = 90, one careers view = -40 (and +30 as a view): 120 - 40 = 80, limited to 50.
    const events = [...evs(3, 'page_view'), ev('page_view', { path: '/careers', ts: T0 + DAY })];
    expect(scoreLead(mixed, events, {}, T0 + DAY).scores.activity).toBe(50);
    // 1 careers view alone: 30 - 40 = -10, not raised by the max.
    expect(scoreLead(mixed, [ev('page_view', { path: '/careers' })], {}, T0).scores.activity).toBe(-10);
  });
});

describe('negative points', () => {
  const m = model({
    behaviourRules: [rule('careers', -20, { path: '/careers*' }), rule('view', 5, { type: 'page_view' })],
    profileRules: [{ id: 'student', label: 'Student', points: -30, when: { property: 'jobTitle', op: 'contains', value: 'student' } }],
  });

  it('take the total below 0, and such a lead is in the first band', () => {
    const s = scoreLead(m, [ev('page_view', { path: '/careers' })], { jobTitle: 'Student' }, T0);
    expect(s.scores).toEqual({ fit: -30, activity: -15, engagement: 0 });
    expect(s.total).toBe(-45);
    expect(s.band).toBe('cold');
    expect(s.exclusion).toBeNull();
  });

  it('subtract from positive points of the same dimension', () => {
    const events = [...evs(10, 'page_view'), ev('page_view', { path: '/careers/dev', ts: T0 + DAY })];
    expect(scoreLead(m, events, {}, T0 + DAY).scores.activity).toBe(55 - 20);
  });
});
