/**
 * @module Per rule, how often it fired for won leads against lost ones: which criteria really
 * predict. Every rule of the model is listed, fired or not, so a rule that never fires shows too.
 */
import type { Model } from '../scoring/model';
import { type DecidedLead, hitsAsDecided } from './features';
import { type Proportion, wilson } from './stats';

export interface RuleEvidence {
  ruleId: string;
  kind: 'behaviour' | 'profile';
  label: string;
  /** The rule's points in the model judged. */
  points: number;
  /** Share of won leads it fired for, with its interval. */
  firedWon: Proportion;
  /** Share of lost (and bad-fit) leads it fired for. */
  firedLost: Proportion;
  /** firedWon / firedLost: above 1 the rule fires more for winners; null when it never fired for a lost lead. */
  lift: number | null;
  /** Of the decided leads it fired for, the share won. */
  wonWhenFired: Proportion;
}

/** The rules of a model with their kind, in model order. */
export const rulesOf = (model: Model) => [
  ...model.behaviourRules.map((r) => ({ id: r.id, kind: 'behaviour' as const, label: r.label, points: r.points })),
  ...model.profileRules.map((r) => ({ id: r.id, kind: 'profile' as const, label: r.label, points: r.points })),
];

/** Each decided lead's rule hits under `model`: computed once, shared by the evidence and the fit. */
export const hitsOf = (model: Model, leads: readonly DecidedLead[]) => leads.map((l) => hitsAsDecided(model, l));

export function ruleEvidence(model: Model, leads: readonly DecidedLead[], hits: readonly Map<string, number>[]): RuleEvidence[] {
  const won = leads.filter((l) => l.label === 1).length;
  const lost = leads.length - won;
  return rulesOf(model).map((rule) => {
    let firedWon = 0;
    let firedLost = 0;
    leads.forEach((l, i) => {
      if (!hits[i]!.has(rule.id)) return;
      if (l.label === 1) firedWon++;
      else firedLost++;
    });
    const w = wilson(firedWon, won);
    const l = wilson(firedLost, lost);
    return {
      ruleId: rule.id,
      kind: rule.kind,
      label: rule.label,
      points: rule.points,
      firedWon: w,
      firedLost: l,
      lift: w.rate !== null && l.rate ? w.rate / l.rate : null,
      wonWhenFired: wilson(firedWon, firedWon + firedLost),
    };
  });
}
