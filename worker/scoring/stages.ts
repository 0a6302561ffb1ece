/** @module Lifecycle stages: automatic ones reached by minimum scores, never left automatically. */
import { AUTOMATIC_STAGES, STAGES, type Model, type Stage, type StageMinimums } from './model';
import type { DimensionScores } from './types';

export const stageRank = (s: Stage): number => STAGES.indexOf(s);

function meets(min: StageMinimums, scores: DimensionScores, total: number): boolean {
  return (
    (min.fit === undefined || scores.fit >= min.fit) &&
    (min.activity === undefined || scores.activity >= min.activity) &&
    (min.engagement === undefined || scores.engagement >= min.engagement) &&
    (min.total === undefined || total >= min.total)
  );
}

/**
 * The stage after scoring: the highest automatic stage whose minimums hold, but never below the
 * stage the lead already had (sales may have moved it further). An excluded lead does not advance:
 * it is never sales-ready.
 */
export function nextStage(
  model: Model,
  scores: DimensionScores,
  total: number,
  excluded: boolean,
  current: Stage,
): Stage {
  if (excluded) return current;
  let reached: Stage = 'prospect';
  for (const s of AUTOMATIC_STAGES) if (meets(model.stages[s], scores, total)) reached = s;
  return stageRank(reached) > stageRank(current) ? reached : current;
}
