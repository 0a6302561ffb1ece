/** @module What the engine reads and what it answers: plain data, no I/O. */
import type { EventShape } from './event-shapes';
import type { Dimension, Stage } from './model';

/** A lead's properties: `email`, `emailDomain`, `jobTitle`, `companySize`… and any custom one. */
export type Profile = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** An event as the engine sees it; derived fields (path, extension, UTM) are read from `url`. */
export interface ScoringEvent {
  readonly id: string;
  readonly type: string;
  /** ms since epoch, as the client stamped it. */
  readonly ts: number;
  readonly url?: string | null;
  readonly contentType?: string | null;
  readonly props?: Readonly<Record<string, unknown>> | null;
  /**
   * The stored shape the event was read back from (its type, url, content type and props are the
   * shape's): rules are then matched once per shape object, with no key to build per event.
   */
  readonly shape?: EventShape;
}

export type DimensionScores = Record<Dimension, number>;

/** Points one rule gave a lead, decay applied. */
export interface BreakdownItem {
  ruleId: string;
  kind: 'behaviour' | 'profile';
  label: string;
  dimension: Dimension;
  points: number;
  /** Events (or 1 for a profile rule) that counted. */
  count: number;
}

export interface LeadScore {
  scores: DimensionScores;
  total: number;
  /** null when the lead is excluded: an excluded lead belongs to no band. */
  band: string | null;
  exclusion: { ruleId: string; reason: string } | null;
  stage: Stage;
  breakdown: BreakdownItem[];
  /**
   * Points per dimension before limits and rounding, split into those that decay and those that do
   * not: when decay will next move the lead is computed from these exact values.
   */
  raw: { decaying: DimensionScores; fixed: DimensionScores };
}
