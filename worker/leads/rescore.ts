/**
 * @module A lead's new stored state from the engine: the column values to write and the
 * transitions to announce. Used alike by live ingest, recomputes, decay and sales' stage changes.
 */
import type { Model, Stage } from '../scoring/model';
import { nextWakeAt } from '../scoring/next-change';
import { scoreLead } from '../scoring/score';
import type { Profile, ScoringEvent } from '../scoring/types';
import { transitionsBetween, type StoredState, type Transition } from './transitions';

export interface Rescored {
  values: {
    fit: number;
    activity: number;
    engagement: number;
    score: number;
    band: string | null;
    stage: Stage;
    excludedReason: string | null;
    eventCount: number;
    lastEventAt: number | null;
    scoredAt: number;
    modelVersion: number;
    /** The decay job's wake-up: the next change of band or stage, or the next refresh if sooner, or the stored one kept (see `nextWake`). */
    nextChangeAt: number | null;
    updatedAt: number;
  };
  transitions: Transition[];
}

/** @param before the stored state, or null for a lead being created. */
export function rescore(
  model: Model,
  modelVersion: number,
  before: StoredState | null,
  events: readonly ScoringEvent[],
  profile: Profile,
  now: number,
): Rescored {
  const recycledAt = before?.recycledAt ?? null;
  const score = scoreLead(model, events, profile, now, before?.stage ?? 'prospect', recycledAt);
  return {
    values: {
      ...score.scores,
      score: score.total,
      band: score.band,
      stage: score.stage,
      excludedReason: score.exclusion?.reason ?? null,
      eventCount: events.length,
      lastEventAt: events.reduce((m, e) => Math.max(m, e.ts), 0) || null,
      scoredAt: now,
      modelVersion,
      nextChangeAt: nextWakeAt(model, score, now, before?.nextChangeAt ?? null, { stages: recycledAt === null }),
      updatedAt: now,
    },
    transitions: transitionsBetween(model, before, score),
  };
}
