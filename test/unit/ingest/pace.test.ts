import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { advancePace, crowded, MAX_PAGE_VIEWS, PACE_WINDOW_MS } from '../../../worker/ingest/pace';

const T = 1_800_000_000_000;
const every = (n: number, stepMs: number, from = T) => Array.from({ length: n }, (_, i) => from + i * stepMs);

describe('advancePace', () => {
  it('calls a crawler a robot at the view that crosses the limit, in one batch or many', () => {
    expect(advancePace({ start: null, count: 0 }, every(MAX_PAGE_VIEWS, 2000))).toEqual({ pace: { start: T, count: MAX_PAGE_VIEWS }, robot: false });
    expect(advancePace({ start: null, count: 0 }, every(MAX_PAGE_VIEWS + 1, 2000)).robot).toBe(true);
    let pace = { start: null as number | null, count: 0 };
    const verdicts = [];
    for (let b = 0; b < 11; b++) {
      const r = advancePace(pace, every(10, 2000, T + b * 20_000));
      pace = r.pace;
      verdicts.push(r.robot);
    }
    expect(verdicts).toEqual([...Array(10).fill(false), true]);
  });

  it('lets a person through: thirty tabs at once, then reading; a day of steady browsing', () => {
    const tabs = every(30, 100);
    const reading = every(60, 60_000, T + 10_000);
    expect(advancePace({ start: null, count: 0 }, [...tabs, ...reading]).robot).toBe(false);
    expect(advancePace({ start: null, count: 0 }, every(1000, 10_000)).robot).toBe(false);
  });

  it('starts a new window once the last is over, and leaves out views older than it (sent late)', () => {
    const { pace } = advancePace({ start: T, count: 99 }, [T + PACE_WINDOW_MS]);
    expect(pace).toEqual({ start: T + PACE_WINDOW_MS, count: 1 });
    // A replay of 150 old views, sent at once after the page came back online, counts for nothing.
    expect(advancePace(pace, every(150, 1000, T - 3_600_000))).toEqual({ pace, robot: false });
  });

  it('does not depend on the order the views arrive in', () => {
    const views = every(MAX_PAGE_VIEWS + 1, 3000);
    const shuffled = [...views].reverse();
    expect(advancePace({ start: null, count: 0 }, shuffled)).toEqual(advancePace({ start: null, count: 0 }, views));
  });
});

describe('crowded', () => {
  const W = PACE_WINDOW_MS;
  const spaced = (n: number, from: number, every: number) => Array.from({ length: n }, (_, i) => from + i * every);

  it('counts the window that ends at each new page view, its start left out', () => {
    const all = spaced(MAX_PAGE_VIEWS + 1, 0, 1000);
    const last = all.at(-1)!;
    expect(crowded(all, [last])).toBe(true);
    // The first view a whole window before the last is outside it: 100 are left.
    const wide = spaced(MAX_PAGE_VIEWS + 1, 0, W / MAX_PAGE_VIEWS);
    expect(wide.at(-1)! - wide[0]!).toBe(W);
    expect(crowded(wide, [wide.at(-1)!])).toBe(false);
    // Only the new views' windows are looked at: an old burst does not make a new view a robot's.
    expect(crowded([...all, last + W], [last + W])).toBe(false);
  });

  it('agrees with counting by hand', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 * W }), { maxLength: 300 }), fc.array(fc.integer({ min: 0, max: 2 * W }), { maxLength: 5 }), (stored, views) => {
        const all = [...stored, ...views].sort((a, b) => a - b);
        const byHand = views.some((t) => all.filter((x) => x > t - W && x <= t).length > MAX_PAGE_VIEWS);
        expect(crowded(all, views)).toBe(byHand);
      }),
      { numRuns: 300 },
    );
  });
});
