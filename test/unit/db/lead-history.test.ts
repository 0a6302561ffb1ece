import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HISTORY_MAX, historyJson, packHistory, parseHistory } from '../../../worker/db/lead-history';

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

  it('becomes NULL past its limit, or when the kept events are not known one by one', () => {
    const kept = Array.from({ length: HISTORY_MAX - 1 }, (_, i) => ({ ts: i, shapeId: 1 }));
    expect(historyJson({ kept, added: [[1, 'k']] })).toEqual([packHistory(kept), [[1, 'k']]]);
    expect(historyJson({ kept, added: [[1, 'k'], [2, 'k']] })).toEqual([null]);
    expect(historyJson({ kept: null, added: [[1, 'k']] })).toEqual([null]);
  });
});
