/**
 * A lead's score after each of its events (worker/scoring/history.ts), worked out from the events'
 * contributions once, against its definition: `scoreLead` over the events up to each one, at its
 * time. Equal float for float, over random models, profiles and event streams.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scoreHistory } from '../../../worker/scoring/history';
import type { Model } from '../../../worker/scoring/model';
import { chronological, scoreLead } from '../../../worker/scoring/score';
import type { Profile, ScoringEvent } from '../../../worker/scoring/types';
import { eventsArb, modelArb, profileArb } from './arbitraries';
import { DAY, ev, model, rule, T0 } from './fixtures';

const RUNS: fc.Parameters<unknown> = { numRuns: 200, seed: Number(process.env.FC_SEED ?? 20_261_206) };

/** The definition: each point scores the events up to it, and those before it, at its time. */
function byDefinition(model: Model, events: readonly ScoringEvent[], profile: Profile, limit: number) {
  const sorted = chronological(events);
  return sorted.slice(Math.max(0, sorted.length - limit)).map((e) => {
    const i = sorted.indexOf(e);
    const after = scoreLead(model, sorted.slice(0, i + 1), profile, e.ts).total;
    const before = scoreLead(model, sorted.slice(0, i), profile, e.ts).total;
    return { eventId: e.id, ts: e.ts, total: after, delta: Math.round((after - before) * 100) / 100 };
  });
}

describe('score history', () => {
  it("equals scoring the events up to each point, float for float, whatever the model's caps, decay and windows", () => {
    fc.assert(
      fc.property(modelArb(), eventsArb({ maxLength: 40 }), profileArb, fc.integer({ min: 1, max: 45 }), (model, events, profile, limit) => {
        expect(scoreHistory(model, events, profile, limit)).toEqual(byDefinition(model, events, profile, limit));
      }),
      RUNS,
    );
  });

  it('sees a capped rule stop adding and decay take back points between events', () => {
    const capped = model({
      dimensions: { fit: {}, activity: { halfLifeDays: 20 }, engagement: {} },
      behaviourRules: [rule('pricing', 10, { type: 'page_view', path: '/pricing' }, { maxTimes: 2 })],
    });
    const events = [0, 1, 2, 41].map((d) => ev('page_view', { ts: T0 + d * DAY, path: '/pricing' }));
    const points = scoreHistory(capped, events, {}, 10);
    // Each point's change is its event's own points, at that moment; the third view is past maxTimes.
    expect(points.map((p) => p.delta)).toEqual([10, 10, 0, 0]);
    // Between views, the earlier ones lose value: at a half-life of 20 days, a quarter 40 days on.
    const worth = (...ages: number[]) => Math.round(ages.reduce((n, d) => n + 10 * 2 ** (-d / 20), 0) * 100) / 100;
    expect(points.map((p) => p.total)).toEqual([10, worth(1, 0), worth(2, 1), worth(41, 40)]);
  });
});
