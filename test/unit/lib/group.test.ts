import { describe, expect, it } from 'vitest';
import { groupBy } from '../../../worker/lib/group';

describe('groupBy', () => {
  it('keeps the items in their order within each group, and the groups in the order first met', () => {
    const rows = [
      { site: 'b', n: 1 },
      { site: 'a', n: 2 },
      { site: 'b', n: 3 },
      { site: 'c', n: 4 },
      { site: 'a', n: 5 },
    ];
    const groups = groupBy(rows, (r) => r.site);
    expect([...groups.keys()]).toEqual(['b', 'a', 'c']);
    expect(groups.get('b')!.map((r) => r.n)).toEqual([1, 3]);
    expect(groups.get('a')!.map((r) => r.n)).toEqual([2, 5]);
    expect(groupBy([], (r: { site: string }) => r.site).size).toBe(0);
  });

  it('groups 100,000 items of one key, as a large site would give it', () => {
    const items = Array.from({ length: 100_000 }, (_, i) => i);
    expect(groupBy(items, () => 'one').get('one')).toEqual(items);
  });
});
