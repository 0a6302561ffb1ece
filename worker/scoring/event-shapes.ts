/**
 * @module An event's shape, and which behaviour rules it meets, computed once per shape and model.
 *
 * An event's shape is all of it but its id and time: type, URL, content type, properties. A site's
 * events come in few shapes (page views of the same pages, downloads of the same files), so a
 * recompute over a million events tests each rule against a few thousand shapes, then only compares
 * times. The cache is a memo of `eventShapeMatches`, so results cannot differ from testing each
 * event: it changes how fast the engine is, never what it answers. It is keyed by the model
 * object, so a model is never mutated once scored with (every caller parses a fresh one).
 */
import { campaignWindow, eventShapeMatches } from './conditions';
import { eventFacts } from './event-facts';
import type { BehaviourRule, Model } from './model';
import type { ScoringEvent } from './types';

/**
 * What rules can test of an event, and nothing else: events are stored as (shape, time) against a
 * site's dictionary of shapes, so that a recompute reads a few bytes per event.
 */
export interface EventShape {
  type: string;
  url: string | null;
  contentType: string | null;
  props: Readonly<Record<string, unknown>> | null;
}

const BASE = 'http://relative.invalid';

/**
 * The URL as rules read it: its path and its `utm_campaign` (see `eventFacts`). Click ids, session
 * ids and other parameters would otherwise make nearly every page view a shape of its own; the
 * full URL stays with the event. A URL that would not read back the same (an opaque `mailto:`, a
 * path starting with `//`) is kept whole.
 */
function ruleUrl(url: string | null | undefined): string | null {
  if (url === null || url === undefined) return null;
  let u: URL;
  try {
    u = new URL(url, BASE);
  } catch {
    return null; // rules see no path in it either way
  }
  const utm = u.searchParams.get('utm_campaign');
  const short = u.pathname + (utm === null ? '' : `?utm_campaign=${encodeURIComponent(utm)}`);
  try {
    const back = new URL(short, BASE);
    if (back.pathname === u.pathname && back.searchParams.get('utm_campaign') === utm) return short;
  } catch {
    // kept whole below
  }
  return url;
}

/** Keys sorted, so that the same properties sent in another order make the same shape. */
function sortedProps(props: Readonly<Record<string, unknown>> | null | undefined): Record<string, unknown> | null {
  if (!props) return null;
  const keys = Object.keys(props);
  if (keys.length === 0) return null;
  return Object.fromEntries(keys.sort().map((k) => [k, props[k]]));
}

/** The shape an event is stored under: rules meet it exactly as they meet the event. */
export function shapeOf(e: Pick<ScoringEvent, 'type' | 'url' | 'contentType' | 'props'>): EventShape {
  return { type: e.type, url: ruleUrl(e.url), contentType: e.contentType ?? null, props: sortedProps(e.props) };
}

/** A shape's identity in its site's dictionary. */
export const shapeKeyOf = (s: EventShape): string => JSON.stringify([s.type, s.url, s.contentType, s.props]);

export interface CompiledRule {
  rule: BehaviourRule;
  halfLifeDays: number | undefined;
  /** The campaign window as numbers: [from, until). */
  from: number;
  until: number;
}

interface Compiled {
  rules: CompiledRule[];
  /** Shape key → indexes in `rules` of the rules the shape meets, in model order. */
  shapes: Map<string, readonly number[]>;
  /** The same, for events that carry their stored shape: looked up by the object, no key built. */
  stored: WeakMap<EventShape, readonly number[]>;
}

/** Enough for any site's distinct pages and files; past it the memo starts over rather than grow. */
const MAX_SHAPES = 20_000;
const compiledModels = new WeakMap<Model, Compiled>();

function compile(model: Model): Compiled {
  let c = compiledModels.get(model);
  if (!c) {
    c = {
      rules: model.behaviourRules.map((rule) => {
        const [from, until] = campaignWindow(rule.when);
        return { rule, halfLifeDays: model.dimensions[rule.dimension].halfLifeDays, from, until };
      }),
      shapes: new Map(),
      stored: new WeakMap(),
    };
    compiledModels.set(model, c);
  }
  return c;
}

const shapeKey = (e: ScoringEvent) =>
  `${e.type}\u0000${e.url ?? ''}\u0000${e.contentType ?? ''}\u0000${e.props ? JSON.stringify(e.props) : ''}`;

type Matcher = { rules: readonly CompiledRule[]; rulesFor: (e: ScoringEvent) => readonly number[] };
const matchers = new WeakMap<Model, Matcher>();

/** The model's behaviour rules, with a function giving the rules an event's shape meets. */
export function ruleMatcher(model: Model): Matcher {
  let m = matchers.get(model);
  if (m) return m;
  const c = compile(model);
  const byKey = (e: ScoringEvent): readonly number[] => {
    const key = shapeKey(e);
    let hits = c.shapes.get(key);
    if (!hits) {
      const facts = eventFacts(e);
      hits = c.rules.flatMap((r, i) => (eventShapeMatches(r.rule.when, facts) ? [i] : []));
      if (c.shapes.size >= MAX_SHAPES) c.shapes.clear();
      c.shapes.set(key, hits);
    }
    return hits;
  };
  m = {
    rules: c.rules,
    rulesFor(e) {
      if (!e.shape) return byKey(e);
      let hits = c.stored.get(e.shape);
      if (!hits) c.stored.set(e.shape, (hits = byKey({ id: '', ts: 0, ...e.shape })));
      return hits;
    },
  };
  matchers.set(model, m);
  return m;
}
