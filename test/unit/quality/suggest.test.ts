import { describe, expect, it } from 'vitest';
import { backtest } from '../../../worker/quality/backtest';
import { FOLDS, MIN_LOST, MIN_RULE_LEADS, MIN_WON, suggestWeights } from '../../../worker/quality/suggest';
import { Model } from '../../../worker/scoring/model';
import { pagesModel, syntheticLeads } from './synthetic';

const TRUTH = { pricing: 1.5, demo: 0.7, blog: -0.6, careers: -1.5 };
const model = pagesModel(Object.keys(TRUTH));

describe('suggestWeights', () => {
  it('recovers the sign and order of the true weights of a synthetic site, as points on the model’s scale', () => {
    const leads = syntheticLeads(TRUTH, 1200, 11);
    const s = suggestWeights(model, leads);
    if (!s.enough) throw new Error(s.message);
    const points = Object.fromEntries(s.rules.map((r) => [r.ruleId, r.suggested]));
    expect(Math.sign(points['page-pricing']!)).toBe(1);
    expect(Math.sign(points['page-demo']!)).toBe(1);
    expect(Math.sign(points['page-blog']!)).toBe(-1);
    expect(Math.sign(points['page-careers']!)).toBe(-1);
    expect(points['page-pricing']).toBeGreaterThan(points['page-demo']!);
    expect(points['page-demo']).toBeGreaterThan(points['page-blog']!);
    expect(points['page-blog']).toBeGreaterThan(points['page-careers']!);
    // The fitted rules keep their total of absolute points (4 × 10), give or take the rounding.
    const total = s.rules.reduce((n, r) => n + Math.abs(r.suggested), 0);
    expect(Math.abs(total - 40)).toBeLessThanOrEqual(2);
    // The candidate is a whole model that the schema accepts, the suggested points in it.
    expect(Model.parse(s.model)).toEqual(s.model);
    expect(s.model.behaviourRules.map((r) => r.points)).toEqual(s.rules.map((r) => r.suggested));
  });

  it('gives each rule its evidence: lift above 1 for a rule that predicts winning, below 1 for one against', () => {
    const s = suggestWeights(model, syntheticLeads(TRUTH, 1200, 12));
    if (!s.enough) throw new Error(s.message);
    const byId = Object.fromEntries(s.rules.map((r) => [r.ruleId, r]));
    expect(byId['page-pricing']!.lift).toBeGreaterThan(1);
    expect(byId['page-careers']!.lift).toBeLessThan(1);
    const pricing = byId['page-pricing']!;
    expect(pricing.firedWon.n + pricing.firedLost.n).toBe(1200);
    expect(pricing.firedWon.low).toBeLessThan(pricing.firedWon.rate!);
    expect(pricing.wonWhenFired.n).toBe(pricing.firedWon.k + pricing.firedLost.k);
  });

  it('keeps the points of a rule that fired too rarely to learn from', () => {
    const rare = pagesModel([...Object.keys(TRUTH), 'never']);
    const s = suggestWeights(rare, syntheticLeads(TRUTH, 600, 13));
    if (!s.enough) throw new Error(s.message);
    const never = s.rules.find((r) => r.ruleId === 'page-never')!;
    expect(never).toMatchObject({ suggested: 10, weight: null });
    expect(never.kept).toMatch(/fewer than/);
  });

  it('weighs a rule that fired for as many leads as it takes, and keeps one that fired for one fewer', () => {
    const m = pagesModel([...Object.keys(TRUTH), 'rare']);
    const rareFor = (n: number) => {
      const leads = syntheticLeads(TRUTH, 600, 13).map((l, i) =>
        i < n ? { ...l, events: [...l.events, { id: `rare-${i}`, type: 'page_view', ts: l.at - 1, url: 'https://acme.example/rare' }] } : l,
      );
      const s = suggestWeights(m, leads);
      if (!s.enough) throw new Error(s.message);
      return s.rules.find((r) => r.ruleId === 'page-rare')!;
    };
    expect(rareFor(MIN_RULE_LEADS).weight).not.toBeNull();
    expect(rareFor(MIN_RULE_LEADS - 1)).toMatchObject({ suggested: 10, weight: null });
  });

  it('judges the suggestion on leads it did not learn from: better than the current model on a real signal', () => {
    const s = suggestWeights(model, syntheticLeads(TRUTH, 600, 15));
    if (!s.enough) throw new Error(s.message);
    expect(s.heldOut.folds).toBe(FOLDS);
    expect(s.heldOut.candidate!).toBeGreaterThan(s.heldOut.current! + 0.1);
  });

  it('shows the flattery of the in-sample backtest when outcomes are noise: held out, the suggestion ranks at random', () => {
    // Eight pages, none of which says anything about winning: whatever the regression learns is noise.
    const pages = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const noise = pagesModel(pages);
    const leads = syntheticLeads(Object.fromEntries(pages.map((p) => [p, 0])), 100, 16);
    const s = suggestWeights(noise, leads);
    if (!s.enough) throw new Error(s.message);
    const inSample = backtest(noise, s.model, leads).candidate.auc!;
    expect(inSample).toBeGreaterThan(s.heldOut.candidate! + 0.1);
    expect(Math.abs(s.heldOut.candidate! - 0.5)).toBeLessThan(0.12);
  });

  it('says so instead of suggesting when there are too few won or lost leads', () => {
    const few = syntheticLeads(TRUTH, 30, 14);
    const s = suggestWeights(model, few);
    expect(s.enough).toBe(false);
    expect(s).not.toHaveProperty('model');
    expect(s.message).toContain(`${MIN_WON} of each needed`);
    expect(s.needed).toEqual({ won: MIN_WON, lost: MIN_LOST });
    expect(s.won + s.lost).toBe(30);
  });

  it('suggests from exactly the outcomes it needs, and counts won and lost apart', () => {
    const leads = syntheticLeads(TRUTH, 200, 5);
    const [won, lost] = [leads.filter((l) => l.label === 1), leads.filter((l) => l.label === 0)];
    const justEnough = [...won.slice(0, MIN_WON), ...lost.slice(0, MIN_LOST)];
    expect(suggestWeights(model, justEnough)).toMatchObject({ enough: true, won: MIN_WON, lost: MIN_LOST });
    for (const [w, l] of [[MIN_WON - 1, MIN_LOST + 5], [MIN_WON + 5, MIN_LOST - 1]] as const) {
      expect(suggestWeights(model, [...won.slice(0, w), ...lost.slice(0, l)])).toMatchObject({ enough: false, won: w, lost: l });
    }
  });
});

describe('backtest', () => {
  it('ranks the suggestion above a model of reversed weights, on leads it did not learn from', () => {
    const s = suggestWeights(model, syntheticLeads(TRUTH, 1200, 21));
    if (!s.enough) throw new Error(s.message);
    const reversed = Model.parse({ ...s.model, behaviourRules: s.model.behaviourRules.map((r) => ({ ...r, points: -r.points })) });
    const fresh = syntheticLeads(TRUTH, 800, 22);
    const result = backtest(reversed, s.model, fresh);
    expect(result.candidate.auc).toBeGreaterThan(0.6);
    expect(result.current.auc).toBeLessThan(0.4);
    expect(result.won + result.lost).toBe(800);
  });

  it('scores each lead as it stood when decided: events after the outcome do not count', () => {
    const [lead] = syntheticLeads({ pricing: 5 }, 1, 1, { visit: 1 });
    const late = { ...lead!, events: lead!.events.map((e) => ({ ...e, ts: lead!.at + 1 })), label: 1 as const };
    const lost = { ...lead!, id: 'ld_lost', events: [], label: 0 as const };
    const pricing = pagesModel(['pricing']);
    expect(backtest(pricing, pricing, [late, lost]).current.auc).toBe(0.5);
    expect(backtest(pricing, pricing, [lead!, lost].map((l, i) => ({ ...l, label: i === 0 ? (1 as const) : (0 as const) }))).current.auc).toBe(1);
  });
});
