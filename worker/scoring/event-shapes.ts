/**
 * @module Which behaviour rules an event's shape meets, computed once per shape and model.
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
    };
    compiledModels.set(model, c);
  }
  return c;
}

const shapeKey = (e: ScoringEvent) =>
  `${e.type}\u0000${e.url ?? ''}\u0000${e.contentType ?? ''}\u0000${e.props ? JSON.stringify(e.props) : ''}`;

/** The model's behaviour rules, with a function giving the rules an event's shape meets. */
export function ruleMatcher(model: Model): { rules: readonly CompiledRule[]; rulesFor: (e: ScoringEvent) => readonly number[] } {
  const c = compile(model);
  return {
    rules: c.rules,
    rulesFor(e) {
      const key = shapeKey(e);
      let hits = c.shapes.get(key);
      if (!hits) {
        const facts = eventFacts(e);
        hits = c.rules.flatMap((r, i) => (eventShapeMatches(r.rule.when, facts) ? [i] : []));
        if (c.shapes.size >= MAX_SHAPES) c.shapes.clear();
        c.shapes.set(key, hits);
      }
      return hits;
    },
  };
}
