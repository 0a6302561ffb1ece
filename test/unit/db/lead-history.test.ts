import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HISTORY_MAX, historyLayout, packHistory, parseHistory, shapeIdsOf, withKnownShapes } from '../../../worker/db/lead-history';

describe('lead history', () => {
  it('packs and parses back any list of events', () => {
    const event = fc.record({ ts: fc.integer({ min: 0, max: 4_102_444_800_000 }), shapeId: fc.integer({ min: 1, max: 2 ** 40 }) });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 50 }), (events) => {
        expect(parseHistory(packHistory(events))).toEqual(events);
      }),
    );
    expect(parseHistory('')).toEqual([]);
  });

  it('reads any text as Number reads its pairs, well formed or not', () => {
    const byNumber = (text: string) =>
      text === '' ? [] : text.split(',').map((pair) => ({ ts: Number(pair.slice(0, pair.indexOf(':'))), shapeId: Number(pair.slice(pair.indexOf(':') + 1)) }));
    const negative = fc.record({ ts: fc.integer({ min: -4_102_444_800_000, max: 4_102_444_800_000 }), shapeId: fc.nat() });
    fc.assert(
      fc.property(fc.oneof(fc.array(negative).map(packHistory), fc.stringMatching(/^[-0-9:,.e+ ]{0,40}$/)), (text) => {
        expect(parseHistory(text)).toEqual(byNumber(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('names the shapes parseHistory reads, in any text, without making its events', () => {
    const event = fc.record({ ts: fc.integer({ min: -4_102_444_800_000, max: 4_102_444_800_000 }), shapeId: fc.nat() });
    fc.assert(
      fc.property(fc.oneof(fc.array(event).map(packHistory), fc.stringMatching(/^[-0-9:,.e+ ]{0,40}$/)), (text) => {
        const named = new Set<number>([7]);
        shapeIdsOf(text, named);
        expect(named).toEqual(new Set([7, ...parseHistory(text).map((e) => e.shapeId)]));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps every event in the row while they fit, else the kept ones in full pages after the stored ones, the rest in the row', () => {
    const kept = Array.from({ length: HISTORY_MAX - 1 }, (_, i) => ({ ts: i, shapeId: 1 }));
    expect(historyLayout({ kept, added: [[1, 'k']], pages: 2 })).toEqual({ row: [packHistory(kept), [[1, 'k']]], newPages: [], pages: 2 });
    // Past the limit with no full page to make: the row holds one batch more, the next write pages it.
    expect(historyLayout({ kept, added: [[1, 'k'], [2, 'k']], pages: 2 })).toEqual({ row: [packHistory(kept), [[1, 'k'], [2, 'k']]], newPages: [], pages: 2 });
    const over = [...kept, { ts: -1, shapeId: 3 }, { ts: -2, shapeId: 3 }];
    expect(historyLayout({ kept: over, added: [[1, 'k']], pages: 2 })).toEqual({
      row: [packHistory([{ ts: -2, shapeId: 3 }]), [[1, 'k']]],
      newPages: [packHistory(over.slice(0, HISTORY_MAX))],
      pages: 3,
    });
    // A history taken back whole (no stored page kept) is paged again from the first page.
    const whole = Array.from({ length: 2 * HISTORY_MAX + 1 }, (_, i) => ({ ts: i, shapeId: 2 }));
    const layout = historyLayout({ kept: whole, added: [], pages: 0 });
    expect(layout.pages).toBe(2);
    expect(layout.row).toEqual([packHistory(whole.slice(-1)), []]);
    expect([...layout.newPages.flatMap(parseHistory), ...parseHistory(layout.row[0])]).toEqual(whole);
  });

  it('adds known shapes to the kept events and keeps the pages', () => {
    const write = withKnownShapes({ kept: [{ ts: 1, shapeId: 7 }], added: [[2, 'a'], [3, 'b']], pages: 4 }, (key) => (key === 'a' ? 9 : undefined));
    expect(write).toEqual({ kept: [{ ts: 1, shapeId: 7 }, { ts: 2, shapeId: 9 }], added: [[3, 'b']], pages: 4 });
  });
});
