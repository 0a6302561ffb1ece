/**
 * Small builders for the example-based scoring tests: a minimal valid model (parsed by the real
 * zod schema, so every fixture is a model a site could save) and events with fresh ids.
 */
import type { z } from 'zod';
import { Model } from '../../../worker/scoring/model';
import type { ScoringEvent } from '../../../worker/scoring/types';

export const DAY = 86_400_000;
export const HOUR = 3_600_000;
/** 2026-03-02T09:00:00Z */
export const T0 = Date.UTC(2026, 2, 2, 9);

export type ModelInput = z.input<typeof Model>;
type RuleInput = ModelInput['behaviourRules'][number];

/** Unreachable stage minimums: tests that are not about stages never see a stage move. */
export const NO_STAGES = { lead: { total: 1e9 }, mql: { total: 1e9 } } as const;

/** cold below 25, warm from 25, hot from 75 (the default model's bands). */
export const BANDS = [
  { name: 'cold', min: 0, branch: 'generic-content' },
  { name: 'warm', min: 25, branch: 'technical-content' },
  { name: 'hot', min: 75, branch: 'sales-meeting' },
];

/** A valid model: empty rule lists, no caps, no decay, the three default bands, no reachable stage. */
export function model(parts: Partial<ModelInput> = {}): Model {
  return Model.parse({
    dimensions: { fit: {}, activity: {}, engagement: {} },
    behaviourRules: [],
    profileRules: [],
    exclusions: [],
    bands: BANDS,
    stages: NO_STAGES,
    ...parts,
  });
}

/** A behaviour rule in `activity` unless told otherwise. */
export function rule(id: string, points: number, when: RuleInput['when'], extra: Partial<RuleInput> = {}): RuleInput {
  return { id, label: `rule ${id}`, dimension: 'activity', points, when, ...extra };
}

let seq = 0;
/** An event of `type` at `ts` (T0 by default) with a fresh id; `path` becomes an absolute URL. */
export function ev(
  type: string,
  opts: { ts?: number; path?: string; url?: string | null; id?: string; contentType?: string | null; props?: Record<string, unknown> } = {},
): ScoringEvent {
  const url = opts.url !== undefined ? opts.url : opts.path !== undefined ? `https://acme.example${opts.path}` : null;
  return {
    id: opts.id ?? `ev-${String(++seq).padStart(5, '0')}`,
    type,
    ts: opts.ts ?? T0,
    url,
    contentType: opts.contentType ?? null,
    props: opts.props ?? null,
  };
}

/** `n` events of `type`, one minute apart from `ts`. */
export function evs(n: number, type: string, ts = T0): ScoringEvent[] {
  return Array.from({ length: n }, (_, i) => ev(type, { ts: ts + i * 60_000 }));
}
