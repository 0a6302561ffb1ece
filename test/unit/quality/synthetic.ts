/**
 * Synthetic sites whose true weights are known: leads visit pages at random, and whether each is
 * won is drawn from a logistic model of the pages it visited. Seeded, so every run sees the same.
 */
import type { DecidedLead } from '../../../worker/quality/features';
import { model, T0, DAY } from '../scoring/fixtures';

/** mulberry32: a small seeded generator, enough to draw synthetic leads. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sigmoid = (t: number) => 1 / (1 + Math.exp(-t));

/** One behaviour rule per page, all worth 10 points: the model a marketer starts from. */
export function pagesModel(pages: readonly string[]) {
  return model({
    behaviourRules: pages.map((p) => ({ id: `page-${p}`, label: `Page /${p}`, dimension: 'activity' as const, points: 10, when: { type: 'page_view', path: `/${p}` } })),
  });
}

/**
 * Only page rules, each worth `points[page]` (10 by default), three bands at 0, 15 and 25: the
 * plain model the API tests and the browser test start from before outcomes say otherwise.
 */
export function flatPagesModel<P extends string>(pages: readonly P[], points: Partial<Record<P, number>> = {}) {
  return {
    dimensions: { fit: {}, activity: {}, engagement: {} },
    behaviourRules: pages.map((p) => ({ id: `page-${p}`, label: `Page /${p}`, dimension: 'activity', points: points[p] ?? 10, when: { type: 'page_view', path: `/${p}` } })),
    profileRules: [],
    exclusions: [],
    bands: [
      { name: 'cold', min: 0, branch: 'generic-content' },
      { name: 'warm', min: 15, branch: 'technical-content' },
      { name: 'hot', min: 25, branch: 'sales-meeting' },
    ],
    stages: { lead: { total: 10 }, mql: { total: 20 } },
  };
}

/**
 * `n` decided leads: each visits each page once with probability `visit`, and is won with
 * probability σ(intercept + Σ weight of the pages visited).
 */
export function syntheticLeads(truth: Record<string, number>, n: number, seed: number, { intercept = 0, visit = 0.5 } = {}): DecidedLead[] {
  const random = seeded(seed);
  return Array.from({ length: n }, (_, i) => {
    const visited = Object.keys(truth).filter(() => random() < visit);
    const logit = intercept + visited.reduce((s, p) => s + truth[p]!, 0);
    const at = T0 + 30 * DAY;
    return {
      id: `ld_${i}`,
      events: visited.map((p, j) => ({ id: `e${i}-${j}`, type: 'page_view', ts: T0 + j * 1000, url: `https://acme.example/${p}` })),
      profile: {},
      at,
      label: random() < sigmoid(logit) ? 1 : 0,
    };
  });
}
