/**
 * @module The model-quality report: per band and per stage, the leads and how many reached SQL,
 * opportunity and customer, with their intervals; the median time from MQL to SQL; the false
 * positives. Pure: the counts come from counters and indexes, the leads are those sales touched.
 *
 * Bands are the leads' current bands, that is the current model's verdict on them: the question is
 * whether the leads this model calls hot are the ones that convert.
 */
import { EXCLUDED, STAGES, type Model, type Stage } from '../scoring/model';
import type { LeadOutcome, Outcome } from './outcomes';
import { median, type Proportion, wilson } from './stats';

/** A lead sales moved or gave feedback on. */
export interface TouchedLead {
  id: string;
  email: string;
  band: string | null;
  stage: Stage;
  outcome: LeadOutcome;
}

export interface SiteCounts {
  total: number;
  /** Leads per band now, `''` for the excluded. */
  bands: Record<string, number>;
  /** Leads that ever reached each stage or a later one. */
  reached: Partial<Record<Stage, number>>;
}

export const SALES_GOALS = ['sql', 'opportunity', 'customer'] as const;
type Goal = (typeof SALES_GOALS)[number];

export interface ConversionRow {
  leads: number;
  reached: Record<Goal, Proportion>;
}

const atLeast = (lead: TouchedLead, stage: Stage) => {
  const from = STAGES.indexOf(stage);
  return STAGES.some((s, i) => i >= from && (lead.outcome.reached[s] !== undefined || lead.stage === s));
};

function row(leads: number, members: readonly TouchedLead[]): ConversionRow {
  const reached = {} as Record<Goal, Proportion>;
  // Counters are healed once a day: a count behind the leads sales touched is raised to it.
  for (const g of SALES_GOALS) reached[g] = wilson(members.filter((l) => atLeast(l, g)).length, Math.max(leads, members.length));
  return { leads: Math.max(leads, members.length), reached };
}

/** How many false positives to name in the report. */
const SAMPLE = 20;

export function qualityReport(model: Model, counts: SiteCounts, touched: readonly TouchedLead[]) {
  const bands = [
    ...model.bands.map((b) => ({ band: b.name as string | null, name: b.name })),
    { band: null, name: EXCLUDED },
  ].map(({ band, name }) => ({ band: name, ...row(counts.bands[band ?? ''] ?? 0, touched.filter((l) => l.band === band)) }));
  const stages = STAGES.map((stage) => ({
    stage,
    ...row(stage === 'prospect' ? counts.total : (counts.reached[stage] ?? 0), touched.filter((l) => atLeast(l, stage))),
  }));

  const waits = touched.flatMap(({ outcome: { reached } }) =>
    reached.mql !== undefined && reached.sql !== undefined && reached.sql >= reached.mql ? [reached.sql - reached.mql] : [],
  );

  const top = model.bands[model.bands.length - 1]!.name;
  const judged = touched.filter((l) => l.band === top || atLeast(l, 'mql'));
  const falsePositives = judged.filter((l) => l.outcome.badFit);
  const outcomes: Record<Outcome, number> = { won: 0, lost: 0, bad_fit: 0, not_reached: 0 };
  for (const l of touched) if (l.outcome.outcome) outcomes[l.outcome.outcome]++;

  return {
    leads: counts.total,
    outcomes,
    bands,
    stages,
    mqlToSql: { leads: waits.length, medianMs: median(waits) },
    falsePositives: {
      /** Leads in the top band or at MQL and beyond that sales marked bad fit, of those sales touched. */
      ...wilson(falsePositives.length, judged.length),
      topBand: top,
      sample: falsePositives.slice(0, SAMPLE).map((l) => ({ id: l.id, email: l.email, band: l.band, stage: l.stage })),
    },
  };
}
export type QualityReport = ReturnType<typeof qualityReport>;
