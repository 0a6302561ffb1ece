/**
 * Properties of scoreLead over random valid models, profiles and event streams (see arbitraries.ts).
 * A fixed seed keeps the suite deterministic; set FC_SEED to explore other runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { profileMeets } from '../../../worker/scoring/conditions';
import { DIMENSIONS, type Model, type Stage } from '../../../worker/scoring/model';
import { chronological, scoreLead } from '../../../worker/scoring/score';
import { stageRank } from '../../../worker/scoring/stages';
import type { LeadScore, ScoringEvent } from '../../../worker/scoring/types';
import { DAY, eventsArb, modelArb, nowArb, permutationOf, profileArb, stageArb } from './arbitraries';

const RUNS: fc.Parameters<unknown> = { numRuns: 200, seed: Number(process.env.FC_SEED ?? 20_260_302) };

/** Same content, another object: what a retried batch delivers. */
const copy = (e: ScoringEvent): ScoringEvent => ({ ...e, props: e.props ? { ...e.props } : e.props });

const withoutStage = ({ stage: _, ...rest }: LeadScore) => rest;

describe('arrival order', () => {
  it('does not change the result (scores, band, exclusion, stage, breakdown)', () => {
    fc.assert(
      fc.property(
        modelArb(),
        eventsArb().chain((events) => fc.tuple(fc.constant(events), permutationOf(events))),
        profileArb,
        nowArb,
        stageArb,
        (m, [events, arrival], profile, now, stage) => {
          expect(scoreLead(m, arrival, profile, now, stage)).toEqual(scoreLead(m, events, profile, now, stage));
        },
      ),
      RUNS,
    );
  });
});

describe('duplicate events (same id, same content)', () => {
  it('change nothing, wherever they arrive', () => {
    fc.assert(
      fc.property(
        modelArb(),
        eventsArb({ minLength: 1 }).chain((events) =>
          fc.tuple(
            fc.constant(events),
            fc.subarray(events, { minLength: 1 }).chain((dups) => permutationOf([...events, ...dups.map(copy), ...dups.map(copy)])),
          ),
        ),
        profileArb,
        nowArb,
        stageArb,
        (m, [events, withDuplicates], profile, now, stage) => {
          expect(scoreLead(m, withDuplicates, profile, now, stage)).toEqual(scoreLead(m, events, profile, now, stage));
        },
      ),
      RUNS,
    );
  });
});

describe('live equals recompute', () => {
  it('folding the events one at a time as they arrive ends where one scoring of all of them does', () => {
    fc.assert(
      fc.property(modelArb(), eventsArb({ minLength: 1 }), profileArb, (m, arrival, profile) => {
        let stage: Stage = 'prospect';
        let stageBeforeLast: Stage = stage;
        let now = Number.NEGATIVE_INFINITY;
        let live: LeadScore | undefined;
        /** The highest automatic stage any prefix reached on its own. */
        let highestReached: Stage = 'prospect';
        for (let i = 0; i < arrival.length; i++) {
          now = Math.max(now, arrival[i]!.ts);
          const prefix = arrival.slice(0, i + 1);
          stageBeforeLast = stage;
          live = scoreLead(m, prefix, profile, now, stage);
          expect(stageRank(live.stage)).toBeGreaterThanOrEqual(stageRank(stage)); // forward only
          stage = live.stage;
          const reached = scoreLead(m, prefix, profile, now).stage;
          if (stageRank(reached) > stageRank(highestReached)) highestReached = reached;
        }
        if (!live) throw new Error('no event');

        // A recompute reads the stored events in another order, with the stage carried the same way.
        expect(scoreLead(m, chronological(arrival).reverse(), profile, now, stageBeforeLast)).toEqual(live);
        // … or with the stage the live fold stored: recomputing is idempotent.
        expect(scoreLead(m, [...arrival].reverse(), profile, now, live.stage)).toEqual(live);

        // One-shot scoring from `prospect`: same scores, band, exclusion and breakdown.
        const oneShot = scoreLead(m, arrival, profile, now);
        expect(withoutStage(live)).toEqual(withoutStage(oneShot));
        expect(stageRank(live.stage)).toBeGreaterThanOrEqual(stageRank(oneShot.stage));
        // The stage differs only by monotonicity: it is the highest stage some moment reached.
        expect(live.stage).toBe(highestReached);
      }),
      RUNS,
    );
  });
});

describe('invariants of one scoring', () => {
  const check = (m: Model, s: LeadScore, profile: Parameters<typeof scoreLead>[2]) => {
    for (const d of DIMENSIONS) {
      const max = m.dimensions[d].max;
      if (max !== undefined) expect(s.scores[d]).toBeLessThanOrEqual(max);
      // The score is the (limited) sum of the breakdown items of its dimension, to the rounding.
      const items = s.breakdown.filter((b) => b.dimension === d);
      const sum = items.reduce((a, b) => a + b.points, 0);
      const expected = max === undefined ? sum : Math.min(max, sum);
      expect(Math.abs(s.scores[d] - expected)).toBeLessThanOrEqual(0.005 * (items.length + 1) + 1e-9);
    }
    expect(s.total).toBeCloseTo(s.scores.fit + s.scores.activity + s.scores.engagement, 2);
    // Everything is kept to the hundredth.
    const hundredth = (x: number) => Math.abs(x * 100 - Math.round(x * 100)) < 1e-6;
    for (const x of [s.total, ...DIMENSIONS.map((d) => s.scores[d]), ...s.breakdown.map((b) => b.points)]) expect(hundredth(x), String(x)).toBe(true);

    for (const b of s.breakdown) {
      expect(b.count).toBeGreaterThanOrEqual(1);
      if (b.kind === 'profile') continue;
      const r = m.behaviourRules.find((x) => x.id === b.ruleId)!;
      expect(b.dimension).toBe(r.dimension);
      if (r.maxTimes !== undefined) expect(b.count).toBeLessThanOrEqual(r.maxTimes);
      if (r.maxPoints !== undefined) expect(Math.abs(b.points)).toBeLessThanOrEqual(r.maxPoints + 0.005);
      // Decay weights never exceed 1: no rule gives more than its nominal points.
      expect(Math.abs(b.points)).toBeLessThanOrEqual(Math.abs(r.points) * b.count + 0.005);
      if (r.maxPoints === undefined && !m.dimensions[r.dimension].halfLifeDays) {
        expect(b.points).toBeCloseTo(r.points * b.count, 2);
      }
    }

    const firstMatching = m.exclusions.find((x) => profileMeets(x.when, profile));
    expect(s.exclusion).toEqual(firstMatching ? { ruleId: firstMatching.id, reason: firstMatching.reason } : null);
    if (s.exclusion) {
      expect(s.band).toBeNull();
    } else {
      const expected = m.bands.filter((b) => b.min <= s.total).at(-1) ?? m.bands[0]!;
      expect(s.band).toBe(expected.name);
    }
  };

  it('scores within max, total = fit + activity + engagement, band = last band reached or the first, null iff excluded', () => {
    fc.assert(
      fc.property(modelArb(), eventsArb(), profileArb, nowArb, stageArb, (m, events, profile, now, stage) => {
        const s = scoreLead(m, events, profile, now, stage);
        check(m, s, profile);
        expect(stageRank(s.stage)).toBeGreaterThanOrEqual(stageRank(stage));
        if (s.exclusion) expect(s.stage).toBe(stage);
      }),
      RUNS,
    );
  });
});

describe('exclusion', () => {
  it('takes the band and any stage move away, and changes nothing else', () => {
    fc.assert(
      fc.property(modelArb(), eventsArb(), profileArb, nowArb, stageArb, (m, events, profile, now, stage) => {
        const flagged = { ...profile, flagged: 'yes' };
        const excluding: Model = {
          ...m,
          exclusions: [{ id: 'flagged', reason: 'Flagged', when: { property: 'flagged', op: 'exists' } }, ...m.exclusions],
        };
        const out = scoreLead(excluding, events, flagged, now, stage);
        const free = scoreLead({ ...m, exclusions: [] }, events, flagged, now, stage);
        expect(out.exclusion).toEqual({ ruleId: 'flagged', reason: 'Flagged' });
        expect(out.band).toBeNull();
        expect(out.stage).toBe(stage);
        expect({ ...out, band: free.band, stage: free.stage, exclusion: null }).toEqual(free);
      }),
      RUNS,
    );
  });
});

describe('decay', () => {
  it('with all-positive points, a later look never gives a higher score', () => {
    fc.assert(
      fc.property(
        modelArb({ positivePoints: true }),
        eventsArb(),
        profileArb,
        nowArb,
        fc.integer({ min: 0, max: 400 * DAY }),
        (m, events, profile, now, later) => {
          const a = scoreLead(m, events, profile, now);
          const b = scoreLead(m, events, profile, now + later);
          for (const d of DIMENSIONS) expect(b.scores[d]).toBeLessThanOrEqual(a.scores[d]);
          expect(b.total).toBeLessThanOrEqual(a.total);
          expect(b.breakdown.map((x) => x.count)).toEqual(a.breakdown.map((x) => x.count));
        },
      ),
      RUNS,
    );
  });

  it('without any half-life, the moment of looking does not matter', () => {
    fc.assert(
      fc.property(modelArb(), eventsArb(), profileArb, nowArb, nowArb, (m0, events, profile, now1, now2) => {
        const m: Model = { ...m0, dimensions: { fit: { max: m0.dimensions.fit.max }, activity: { max: m0.dimensions.activity.max }, engagement: { max: m0.dimensions.engagement.max } } };
        expect(scoreLead(m, events, profile, now2)).toEqual(scoreLead(m, events, profile, now1));
      }),
      RUNS,
    );
  });
});

describe('the generators', () => {
  it('exercise the engine: matching rules, caps, decay, exclusions, stages and time ties all occur', () => {
    const samples = fc.sample(fc.tuple(modelArb(), eventsArb(), profileArb, nowArb), { numRuns: 400, seed: 7 });
    const stats = { behaviour: 0, excluded: 0, included: 0, staged: 0, maxTimesHit: 0, maxPointsHit: 0, decayed: 0, ties: 0, negative: 0 };
    for (const [m, events, profile, now] of samples) {
      const s = scoreLead(m, events, profile, now);
      if (s.breakdown.some((b) => b.kind === 'behaviour')) stats.behaviour++;
      if (s.exclusion) stats.excluded++;
      else stats.included++;
      if (s.stage !== 'prospect') stats.staged++;
      if (s.total < 0) stats.negative++;
      if (new Set(events.map((e) => e.ts)).size < events.length) stats.ties++;
      for (const b of s.breakdown) {
        const r = m.behaviourRules.find((x) => x.id === b.ruleId);
        if (!r) continue;
        if (r.maxTimes !== undefined && b.count === r.maxTimes && b.count > 1) stats.maxTimesHit++;
        if (r.maxPoints !== undefined && b.count * Math.abs(r.points) > r.maxPoints) stats.maxPointsHit++;
        if (m.dimensions[r.dimension].halfLifeDays && Math.abs(b.points) < Math.abs(r.points * b.count) - 0.01) stats.decayed++;
      }
    }
    expect(stats.behaviour).toBeGreaterThan(samples.length * 0.4);
    expect(stats.excluded).toBeGreaterThan(samples.length * 0.05);
    expect(stats.included).toBeGreaterThan(samples.length * 0.3);
    for (const k of ['staged', 'maxTimesHit', 'maxPointsHit', 'decayed', 'ties', 'negative'] as const) {
      expect(stats[k], k).toBeGreaterThan(10);
    }
  });
});
