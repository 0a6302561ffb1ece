import { describe, expect, it } from 'vitest';
import { countedFrom, maxAge, MIN_AGE_MS, RECOUNT_TIMEOUT_MS, RecentCounts } from '../../../worker/segments/histogram';

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

  it('keeps the last count past its age, and lets one look at a time claim its recount', () => {
    const kept = new RecentCounts();
    expect(kept.last('s', 1)).toBeUndefined();
    kept.keep('s', 1, counted(3, 1_000));
    const old = 1_000 + MIN_AGE_MS;
    expect(kept.fresh('s', 1, old)).toBeUndefined();
    expect(kept.last('s', 1)).toEqual(counted(3, 1_000));
    expect(kept.last('s', 2)).toBeUndefined();
    // The first look claims the recount; the next ones, while it runs, answer the old count alone.
    expect(kept.claim('s', 1, old)).toBe(true);
    expect(kept.claim('s', 1, old + 1)).toBe(false);
    expect(kept.claim('s', 2, old + 1)).toBe(true);
    // Kept, the claim is over: the next stale look may claim again.
    kept.keep('s', 1, counted(4, old + 10));
    expect(kept.claim('s', 1, old + 10 + MIN_AGE_MS)).toBe(true);
    // A failed recount is released at once; a lost one (its request ended first) after the timeout.
    kept.release('s', 1);
    expect(kept.claim('s', 1, old + 20)).toBe(true);
    expect(kept.claim('s', 1, old + 20 + RECOUNT_TIMEOUT_MS - 1)).toBe(false);
    expect(kept.claim('s', 1, old + 20 + RECOUNT_TIMEOUT_MS)).toBe(true);
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
