/**
 * @module What the `/v1/quality` routes answer, as the dashboard reads them. Types only, erased
 * from the bundle, taken from the worker's pure quality modules that build the answers (the zod
 * schemas of the answers live beside the routes' I/O, which the dashboard's build cannot type).
 */
import type { backtest } from '../../worker/quality/backtest';
import type { qualityReport } from '../../worker/quality/report';
import type { RuleEvidence } from '../../worker/quality/rule-evidence';
import type { Suggestion as Suggested } from '../../worker/quality/suggest';

/** `GET /v1/quality`. */
export type QualityReport = ReturnType<typeof qualityReport> & {
  modelVersion: number;
  /** Won, and lost or bad-fit, leads the rules are judged on. */
  decided: { won: number; lost: number };
  rules: RuleEvidence[];
  truncated: boolean;
};

/** `GET /v1/quality/suggestion`: `enough: false` carries only the counts and a message. */
export type Suggestion = Suggested & { modelVersion: number; backtest?: ReturnType<typeof backtest>; truncated: boolean };

/** A share with its 95% Wilson interval. */
export type Proportion = QualityReport['bands'][number]['reached']['sql'];
