/**
 * @module Suggested points per rule, learnt from the site's own outcomes: an L2-regularised
 * logistic regression of won against lost on the rules' hits, its weights brought back to the
 * model's scale. The answer is a whole candidate model, to preview and save like any edit; nothing
 * is applied by this module or by its route.
 */
import { Model } from '../scoring/model';
import type { DecidedLead } from './features';
import { backtestModel } from './backtest';
import { fitLogistic } from './logistic';
import { hitsOf, ruleEvidence, rulesOf, type RuleEvidence } from './rule-evidence';

/** Fewer won or lost leads than this, and the weights would mostly be noise: no suggestion. */
export const MIN_WON = 20;
export const MIN_LOST = 20;
/** A rule that fired for fewer decided leads than this keeps its points: too little to learn from. */
export const MIN_RULE_LEADS = 5;
/**
 * A behaviour rule's hits count up to this many times in the fit: points are per event, so the
 * weight is per hit, but a lead reading 300 pages must not drown the rest.
 */
export const HIT_CAP = 10;
/** The penalty's strength: about one won and one lost lead's worth of pull towards 0 per rule. */
export const LAMBDA = 1;

export interface SuggestedRule extends RuleEvidence {
  /** Log-odds of winning per hit; null when the rule kept its points. */
  weight: number | null;
  suggested: number;
  /** Why the rule kept its points, when it did. */
  kept: string | null;
}

export type Suggestion =
  | { enough: false; won: number; lost: number; needed: { won: number; lost: number }; message: string }
  | {
      enough: true;
      won: number;
      lost: number;
      needed: { won: number; lost: number };
      message: string;
      /** Points per unit of log-odds: the fitted rules keep the sum of their absolute points. */
      scale: number;
      rules: SuggestedRule[];
      model: Model;
      /** The suggestion's backtest on leads it did not learn from (see `heldOutBacktest`). */
      heldOut: { folds: number; current: number | null; candidate: number | null };
    };

const clampPoints = (n: number) => Math.max(-1000, Math.min(1000, Math.round(n)));

export function suggestWeights(model: Model, leads: readonly DecidedLead[]): Suggestion {
  const won = leads.filter((l) => l.label === 1).length;
  const lost = leads.length - won;
  const needed = { won: MIN_WON, lost: MIN_LOST };
  if (won < MIN_WON || lost < MIN_LOST) {
    return {
      enough: false,
      won,
      lost,
      needed,
      message:
        `Not enough outcomes to suggest weights yet: ${won} won and ${lost} lost or bad fit, ` +
        `${MIN_WON} of each needed. Record outcomes on the leads sales worked.`,
    };
  }
  const { rules: suggested, model: candidate, fitted, scale } = fitCandidate(model, leads);
  const rules = rulesOf(model);
  return {
    enough: true,
    won,
    lost,
    needed,
    message: `Learnt from ${won} won and ${lost} lost or bad-fit leads; ${fitted} of ${rules.length} rules fired often enough to be weighed.`,
    scale,
    rules: suggested,
    model: candidate,
    heldOut: heldOutBacktest(model, leads),
  };
}

/**
 * The fit and the candidate it makes: the rules with enough hits weighed by the regression, their
 * weights brought to the model's scale, the others kept.
 */
function fitCandidate(model: Model, leads: readonly DecidedLead[]) {
  const hits = hitsOf(model, leads);
  const evidence = ruleEvidence(model, leads, hits);
  const rules = rulesOf(model);
  const fitted = rules.filter((r, i) => evidence[i]!.firedWon.k + evidence[i]!.firedLost.k >= MIN_RULE_LEADS);
  const rows = hits.map((h) => fitted.map((r) => Math.min(HIT_CAP, h.get(r.id) ?? 0)));
  const fit = fitLogistic(rows, leads.map((l) => l.label), { lambda: LAMBDA });
  const weightOf = new Map(fitted.map((r, j) => [r.id, fit.weights[j]!]));

  // The model's scale is whatever its author chose (0–100 by default): keep the fitted rules' total
  // of absolute points, share it out by weight. Bands and stage minimums then keep their meaning.
  const pointsTotal = fitted.reduce((s, r) => s + Math.abs(r.points), 0);
  const weightTotal = fit.weights.reduce((s, w) => s + Math.abs(w), 0);
  const scale = weightTotal > 0 && pointsTotal > 0 ? pointsTotal / weightTotal : 0;
  const suggested: SuggestedRule[] = rules.map((r, i) => {
    const weight = weightOf.get(r.id);
    if (weight === undefined || scale === 0) {
      const kept = scale === 0 && weight !== undefined ? 'the rules fitted have no points to scale to' : `fired for fewer than ${MIN_RULE_LEADS} decided leads`;
      return { ...evidence[i]!, weight: null, suggested: r.points, kept };
    }
    return { ...evidence[i]!, weight, suggested: clampPoints(weight * scale), kept: null };
  });
  const points = new Map(suggested.map((s) => [s.ruleId, s.suggested]));
  const candidate = Model.parse({
    ...model,
    behaviourRules: model.behaviourRules.map((r) => ({ ...r, points: points.get(r.id) ?? r.points })),
    profileRules: model.profileRules.map((r) => ({ ...r, points: points.get(r.id) ?? r.points })),
  });
  return { rules: suggested, model: candidate, fitted: fitted.length, scale };
}

/** Folds of the held-out backtest. */
export const FOLDS = 5;

/**
 * The suggestion judged on leads it did not learn from: the decided leads dealt into `FOLDS`
 * folds; for each, a candidate learnt from the other folds scores the fold's leads as decided.
 * The backtest on the leads the suggestion learnt from flatters it (a regression fitted to noise
 * still ranks its own leads well); this is what to expect of the next leads. AUCs are the folds'
 * mean, the current model's on the same folds beside it.
 */
export function heldOutBacktest(model: Model, leads: readonly DecidedLead[]): { folds: number; current: number | null; candidate: number | null } {
  // Dealt in id order, won and lost apart, so that every fold holds both in proportion.
  const sorted = [...leads].sort((a, b) => b.label - a.label || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const fold = new Map(sorted.map((l, i) => [l, i % FOLDS]));
  const current: number[] = [];
  const candidate: number[] = [];
  for (let f = 0; f < FOLDS; f++) {
    const test = sorted.filter((l) => fold.get(l) === f);
    const train = sorted.filter((l) => fold.get(l) !== f);
    const learnt = fitCandidate(model, train).model;
    const a = backtestModel(model, test).auc;
    const b = backtestModel(learnt, test).auc;
    if (a !== null && b !== null) {
      current.push(a);
      candidate.push(b);
    }
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);
  return { folds: current.length, current: mean(current), candidate: mean(candidate) };
}
