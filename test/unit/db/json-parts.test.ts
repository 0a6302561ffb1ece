/**
 * `jsonParts` (worker/db/statements.ts): the rows of a set-based statement split into as few JSON
 * parameters as fit a size, in order, none lost or doubled.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonParts } from '../../../worker/db/statements';

const row = fc.array(fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null)), { maxLength: 6 });

describe('jsonParts', () => {
  it('keeps every row once, in order, each part within the size unless a row alone is longer, parts as full as the next row allows', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), fc.integer({ min: 2, max: 400 }), (rows, max) => {
        const parts = jsonParts(rows, (r) => r, max);
        expect(parts.flatMap((p) => p.items)).toEqual(rows);
        for (const [i, { json, items }] of parts.entries()) {
          expect(items.length).toBeGreaterThan(0);
          expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(items)));
          if (items.length > 1) expect(json.length).toBeLessThanOrEqual(max);
          // The next part's first row did not fit in this one.
          const next = parts[i + 1];
          if (next) expect(json.length + 1 + JSON.stringify(next.items[0]).length).toBeGreaterThan(max);
        }
      }),
    );
  });

  it('makes one part of what fits, and none of nothing', () => {
    expect(jsonParts([[1, 'a'], [2, 'b']], (r) => r)).toEqual([{ json: '[[1,"a"],[2,"b"]]', items: [[1, 'a'], [2, 'b']] }]);
    expect(jsonParts([], (r) => r)).toEqual([]);
    expect(jsonParts([{ id: 'x', n: 1 }], (r) => [r.id, r.n], 3)).toEqual([{ json: '[["x",1]]', items: [{ id: 'x', n: 1 }] }]);
  });
});
