import { describe, expect, it } from 'vitest';
import { auc, median, wilson } from '../../../worker/quality/stats';

describe('wilson', () => {
  it('gives the published 95% interval of 5 in 10, and stays inside [0, 1] at the edges', () => {
    const half = wilson(5, 10);
    expect(half.rate).toBe(0.5);
    expect(half.low).toBeCloseTo(0.2366, 4);
    expect(half.high).toBeCloseTo(0.7634, 4);
    const none = wilson(0, 20);
    expect(none.low).toBe(0);
    expect(none.high).toBeCloseTo(0.1611, 4);
    const all = wilson(20, 20);
    expect(all.high).toBe(1);
    expect(all.low).toBeCloseTo(0.8389, 4);
  });

  it('says nothing of an empty group', () => {
    expect(wilson(0, 0)).toEqual({ k: 0, n: 0, rate: null, low: null, high: null });
  });

  it('narrows as the group grows', () => {
    const width = (n: number) => wilson(n / 4, n).high! - wilson(n / 4, n).low!;
    expect(width(400)).toBeLessThan(width(40));
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNull();
  });
});

describe('auc', () => {
  it('is 1 when every won lead scores above every lost one, 0 the other way round, 0.5 for ties', () => {
    expect(auc([10, 20], [1, 2, 3])).toBe(1);
    expect(auc([1, 2], [10, 20])).toBe(0);
    expect(auc([5, 5], [5, 5, 5])).toBe(0.5);
  });

  it('counts the pairs a won lead wins, ties half, as the pairwise definition does', () => {
    const won = [3, 7, 7, 1, 9];
    const lost = [2, 7, 4, 0];
    let pairs = 0;
    for (const w of won) for (const l of lost) pairs += w > l ? 1 : w === l ? 0.5 : 0;
    expect(auc(won, lost)).toBeCloseTo(pairs / (won.length * lost.length), 12);
  });

  it('is null without both kinds of lead', () => {
    expect(auc([], [1])).toBeNull();
    expect(auc([1], [])).toBeNull();
  });
});
