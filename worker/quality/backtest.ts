/**
 * @module How well models rank won leads above lost ones, each lead scored as it stood when its
 * outcome was decided: the candidate beside the current model, on the same leads.
 */
import type { Model } from '../scoring/model';
import { type DecidedLead, scoreAsDecided } from './features';
import { auc } from './stats';

export interface BacktestSide {
  /** P(a won lead scores above a lost one), ties half; null without both kinds of lead. */
  auc: number | null;
  /** Mean score of the won and of the lost leads, as decided. */
  meanWon: number | null;
  meanLost: number | null;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

export function backtestModel(model: Model, leads: readonly DecidedLead[]): BacktestSide {
  const won: number[] = [];
  const lost: number[] = [];
  for (const lead of leads) (lead.label === 1 ? won : lost).push(scoreAsDecided(model, lead).total);
  return { auc: auc(won, lost), meanWon: mean(won), meanLost: mean(lost) };
}

export function backtest(current: Model, candidate: Model, leads: readonly DecidedLead[]) {
  const won = leads.filter((l) => l.label === 1).length;
  return { won, lost: leads.length - won, current: backtestModel(current, leads), candidate: backtestModel(candidate, leads) };
}
