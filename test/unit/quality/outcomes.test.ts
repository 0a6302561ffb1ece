import { describe, expect, it } from 'vitest';
import { labelOf, leadOutcome } from '../../../worker/quality/outcomes';

describe('leadOutcome', () => {
  it('takes the latest decision, reaching customer counting as won', () => {
    const lost = { fit: null, outcome: 'lost', at: 10 };
    expect(leadOutcome([lost], [])).toMatchObject({ outcome: 'lost', at: 10 });
    expect(leadOutcome([lost], [{ to: 'customer', at: 20 }])).toMatchObject({ outcome: 'won', at: 20 });
    expect(leadOutcome([{ ...lost, at: 30 }], [{ to: 'customer', at: 20 }])).toMatchObject({ outcome: 'lost', at: 30 });
  });

  it('reads the older contract: fit bad alone is a bad-fit verdict; a note alone decides nothing', () => {
    expect(leadOutcome([{ fit: 'bad', outcome: null, at: 5 }], [])).toMatchObject({ outcome: 'bad_fit', badFit: true });
    expect(leadOutcome([{ fit: null, outcome: null, at: 5 }], [])).toMatchObject({ outcome: null, at: null, badFit: false });
    // Sales changed their mind on fit: the latest word counts.
    expect(leadOutcome([{ fit: 'bad', outcome: null, at: 5 }, { fit: 'good', outcome: null, at: 6 }], []).badFit).toBe(false);
  });

  it('keeps when each stage was first reached', () => {
    const o = leadOutcome([], [{ to: 'mql', at: 3 }, { to: 'sql', at: 9 }, { to: 'lead', at: 12 }, { to: 'sql', at: 15 }]);
    expect(o.reached).toEqual({ mql: 3, sql: 9, lead: 12 });
    expect(o.outcome).toBeNull();
  });

  it('labels won 1, lost and bad fit 0, and leaves not reached out', () => {
    expect(['won', 'lost', 'bad_fit', 'not_reached', null].map((o) => labelOf(o as never))).toEqual([1, 0, 0, null, null]);
  });
});
