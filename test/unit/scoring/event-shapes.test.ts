/** An event's stored shape: rules must meet it exactly as they meet the event it came from. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventFacts } from '../../../worker/scoring/event-facts';
import { shapeKeyOf, shapeOf, type EventShape } from '../../../worker/scoring/event-shapes';
import { scoreLead } from '../../../worker/scoring/score';
import type { ScoringEvent } from '../../../worker/scoring/types';
import { eventsArb, modelArb, nowArb, profileArb, stageArb } from './arbitraries';

const factsOf = (e: Omit<ScoringEvent, 'id' | 'ts'>) => eventFacts({ id: 'e', ts: 0, ...e });
const asStored = (e: Omit<ScoringEvent, 'id' | 'ts'>) => factsOf(shapeOf({ url: null, contentType: null, props: null, ...e }));

describe('shapeOf', () => {
  it('keeps of a URL only what rules read: one shape for a page, whatever the click ids', () => {
    const a = shapeOf({ type: 'page_view', url: 'https://www.acme.example/pricing?gclid=abc&utm_campaign=spring#top' });
    const b = shapeOf({ type: 'page_view', url: 'https://shop.acme.example/pricing?utm_campaign=spring&fbclid=xyz' });
    expect(a).toEqual({ type: 'page_view', url: '/pricing?utm_campaign=spring', contentType: null, props: null });
    expect(shapeKeyOf(a)).toBe(shapeKeyOf(b));
    expect(shapeKeyOf(shapeOf({ type: 'page_view', url: 'https://www.acme.example/pricing?gclid=1' }))).not.toBe(shapeKeyOf(a));
  });

  it('makes one shape of the same properties in any order, and none of empty ones', () => {
    const a = shapeOf({ type: 'signup', props: { plan: 'pro', seats: 5 } });
    const b = shapeOf({ type: 'signup', props: { seats: 5, plan: 'pro' } });
    expect(shapeKeyOf(a)).toBe(shapeKeyOf(b));
    expect(shapeOf({ type: 'signup', props: {} }).props).toBeNull();
  });

  it('keeps whole a URL that would not read back the same', () => {
    for (const url of ['https://acme.example//double/slash', 'mailto:ana@acme.example', 'not a url at all']) {
      expect(asStored({ type: 'page_view', url })).toEqual(factsOf({ type: 'page_view', url }));
    }
  });

  it('gives rules the same facts as the event, for any URL, content type and properties', () => {
    const url = fc.oneof(
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.tuple(fc.webUrl(), fc.string({ maxLength: 12 })).map(([u, c]) => `${u}?utm_campaign=${encodeURIComponent(c)}&x=1`),
      fc.string({ maxLength: 30 }).map((p) => `/${p}`),
      fc.constant(null),
    );
    const props = fc.option(fc.dictionary(fc.constantFrom('form', 'utm_campaign', 'plan', 'seats'), fc.oneof(fc.string({ maxLength: 8 }), fc.integer())), { nil: null });
    fc.assert(
      fc.property(fc.constantFrom('page_view', 'download', 'form_submit'), url, fc.option(fc.string({ maxLength: 10 }), { nil: null }), props, (type, u, contentType, p) => {
        expect(asStored({ type, url: u, contentType, props: p })).toEqual(factsOf({ type, url: u, contentType, props: p ?? null }));
      }),
    );
  });
});

describe('events that carry their stored shape', () => {
  it('score exactly as the events they were stored from, shapes shared between events and leads', () => {
    fc.assert(
      fc.property(modelArb(), eventsArb({ maxLength: 30 }), profileArb, nowArb, stageArb, (m, events, profile, now, stage) => {
        // As a recompute reads them back: one shape object per distinct shape, rules met through it.
        const dictionary = new Map<string, EventShape>();
        const stored = events.map((e) => {
          const s = shapeOf(e);
          const shape = dictionary.get(shapeKeyOf(s)) ?? (dictionary.set(shapeKeyOf(s), s), s);
          return { id: e.id, ts: e.ts, ...shape, shape };
        });
        const direct = events.map((e) => ({ ...e, ...shapeOf(e) }));
        expect(scoreLead(m, stored, profile, now, stage)).toEqual(scoreLead(m, direct, profile, now, stage));
        expect(scoreLead(m, stored, profile, now, stage)).toEqual(scoreLead(m, events, profile, now, stage));
      }),
    );
  });
});
