import { describe, expect, it } from 'vitest';
import { countedFrom, maxAge, MIN_AGE_MS, RecentCounts } from '../../../worker/segments/histogram';

const counted = (leads: number, countedAt: number) => ({ histogram: leads ? [{ min: 0, count: leads }] : [], countedAt });

describe('the score histogram kept between recounts', () => {
  it('stands 5 s, or 1 s per 10,000 leads it counted, whichever is longer', () => {
    expect([maxAge(0), maxAge(3), maxAge(50_000), maxAge(100_000), maxAge(1_000_000)]).toEqual([MIN_AGE_MS, 5_000, 5_000, 10_000, 100_000]);
    for (const [leads, age] of [
      [3, 5_000],
      [100_000, 10_000],
      [1_000_000, 100_000],
    ] as const) {
      const kept = new RecentCounts();
      kept.keep('s', 1, counted(leads, 1_000));
      expect(kept.fresh('s', 1, 1_000)).toEqual(counted(leads, 1_000));
      expect(kept.fresh('s', 1, 1_000 + age - 1)).toBeDefined();
      expect(kept.fresh('s', 1, 1_000 + age)).toBeUndefined();
    }
  });

  it('is kept per site and model version, counted again after a clock gone back, and forgets the least recently used past its limit', () => {
    const kept = new RecentCounts(2);
    kept.keep('a', 1, counted(3, 1_000));
    expect(kept.fresh('a', 2, 1_000)).toBeUndefined();
    expect(kept.fresh('b', 1, 1_000)).toBeUndefined();
    expect(kept.fresh('a', 1, 999)).toBeUndefined();
    kept.keep('b', 1, counted(3, 1_000));
    kept.keep('a', 1, counted(4, 1_001));
    kept.keep('c', 1, counted(3, 1_002));
    expect(kept.fresh('b', 1, 1_003)).toBeUndefined();
    expect(kept.fresh('a', 1, 1_003)).toEqual(counted(4, 1_001));
    expect(kept.fresh('c', 1, 1_003)).toBeDefined();
  });

  it('reads the recount as buckets by lower bound, lowest first', () => {
    expect(
      countedFrom(
        [
          { key: '45', n: 2 },
          { key: '-5', n: 1 },
          { key: '5', n: 3 },
        ],
        7,
      ),
    ).toEqual({
      histogram: [
        { min: -5, count: 1 },
        { min: 5, count: 3 },
        { min: 45, count: 2 },
      ],
      countedAt: 7,
    });
  });
});
