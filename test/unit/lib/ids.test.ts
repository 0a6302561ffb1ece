import { describe, expect, it } from 'vitest';
import { newLeadId } from '../../../worker/lib/ids';

describe('lead ids', () => {
  it('sort in the order the leads were created, as their rows are stored', () => {
    const times = [0, 1, 35, 36, 1_000_000, Date.UTC(2026, 10, 23), Date.UTC(2059, 4, 5), Date.UTC(2100, 0, 1)];
    const ids = times.map((t) => newLeadId(t));
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^ld_[0-9a-z]{21}$/);
  });

  it('differ when minted in the same millisecond', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newLeadId(1_763_900_000_000)));
    expect(ids.size).toBe(10_000);
  });
});
