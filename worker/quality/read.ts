/**
 * @module What the quality report, the suggestion and the backtest read: the site's counts from
 * the counters and the stage index, and the leads sales touched (moved to a sales stage, or gave
 * feedback on) with their events, found by index. A site of 100,000 leads has a few hundred such
 * leads; nothing here walks the others.
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { inList } from '../db/client';
import { eventsOfRows, type HistoryRow } from '../db/lead-events';
import { changesOfLeads, isStageChange, reachesStage } from '../db/lead-transitions';
import { feedback, leads, transitions } from '../db/schema';
import { groupBy } from '../lib/group';
import type { EventShape } from '../scoring/event-shapes';
import { STAGES, type Stage } from '../scoring/model';
import { countersOf, countsIn } from '../segments/snapshot';
import type { DecidedLead } from './features';
import { type FeedbackFact, labelOf, leadOutcome, type StageChange } from './outcomes';
import { SALES_GOALS, type SiteCounts, type TouchedLead } from './report';

/** The most touched leads read, newest decisions first: beyond, the answer says it was cut. */
export const MAX_TOUCHED = 5000;
/** Leads per read of rows and stage changes (one JSON parameter each). */
const LEADS_PER_READ = 500;
/**
 * Decided leads turned into events at a time: their histories come with their rows (a lead past the
 * history's limit has its events read from the log), and must fit a Worker's memory comfortably.
 */
const EVENTS_PER_READ = 100;

export interface QualityData {
  counts: SiteCounts;
  touched: TouchedLead[];
  /** The touched leads whose outcome is won, lost or bad fit, with their events and profile. */
  decided: DecidedLead[];
  /** True when more leads were touched than `MAX_TOUCHED`: the oldest were left out. */
  truncated: boolean;
}

/** Leads that reached `stage` or a later one: counted in the stage index alone. */
export const reachedCount = (db: Database, siteId: string, stage: Stage) =>
  db
    .select({ n: sql<number>`count(DISTINCT ${transitions.leadId})` })
    .from(transitions)
    .where(
      and(
        eq(transitions.siteId, siteId),
        isStageChange,
        reachesStage(STAGES.slice(STAGES.indexOf(stage))),
      ),
    );

/** The leads sales moved to a sales stage, and when. */
export const salesMoves = (db: Database, siteId: string) =>
  db
    .select({ leadId: transitions.leadId, at: transitions.at })
    .from(transitions)
    .where(and(eq(transitions.siteId, siteId), isStageChange, reachesStage(SALES_GOALS)));

/** The site's feedback, oldest first. */
export const siteFeedback = (db: Database, siteId: string) =>
  db
    .select({ leadId: feedback.leadId, fit: feedback.fit, outcome: feedback.outcome, at: feedback.createdAt })
    .from(feedback)
    .where(eq(feedback.siteId, siteId))
    .orderBy(asc(feedback.seq));

export async function readQualityData(db: Database, siteId: string): Promise<QualityData> {
  const counted = STAGES.slice(1);
  const [counters, moves, feedbackRows, ...reached] = await db.batch([
    countersOf(db, siteId),
    salesMoves(db, siteId),
    siteFeedback(db, siteId),
    ...counted.map((stage) => reachedCount(db, siteId, stage)),
  ]);

  const bands = countsIn(counters).band;
  const counts: SiteCounts = {
    total: Object.values(bands).reduce((a, b) => a + b, 0),
    bands,
    reached: Object.fromEntries(counted.map((s, i) => [s, reached[i]![0]?.n ?? 0])),
  };

  // The latest touch of each lead, to keep the most recent when there are too many.
  const lastTouch = new Map<string, number>();
  for (const { leadId, at } of [...moves, ...feedbackRows]) lastTouch.set(leadId, Math.max(at, lastTouch.get(leadId) ?? 0));
  const ids = [...lastTouch].sort((a, b) => b[1] - a[1]).map(([id]) => id);
  const truncated = ids.length > MAX_TOUCHED;
  const kept = ids.slice(0, MAX_TOUCHED);
  const feedbackOf: Map<string, FeedbackFact[]> = groupBy(feedbackRows, (f) => f.leadId);

  const touched: TouchedLead[] = [];
  const rowOf = new Map<string, Omit<HistoryRow, 'id'> & { profile: DecidedLead['profile'] }>();
  for (let i = 0; i < kept.length; i += LEADS_PER_READ) {
    const part = kept.slice(i, i + LEADS_PER_READ);
    const [rows, changes] = await db.batch([
      db
        .select({ id: leads.id, email: leads.email, band: leads.band, stage: leads.stage, profile: leads.profile, history: leads.history, historyPages: leads.historyPages })
        .from(leads)
        .where(and(eq(leads.siteId, siteId), inList(leads.id, part))),
      db
        .select({ leadId: transitions.leadId, to: transitions.toValue, at: transitions.at })
        .from(transitions)
        .where(changesOfLeads(siteId, part).stages),
    ]);
    const changesOf: Map<string, StageChange[]> = groupBy(changes, (c) => c.leadId);
    for (const r of rows) {
      touched.push({
        id: r.id,
        email: r.email,
        band: r.band,
        stage: r.stage as Stage,
        outcome: leadOutcome(feedbackOf.get(r.id) ?? [], changesOf.get(r.id) ?? []),
      });
      rowOf.set(r.id, { profile: r.profile, history: r.history, historyPages: r.historyPages });
    }
  }

  const decided: DecidedLead[] = [];
  const toRead = touched.flatMap((l) => {
    const label = labelOf(l.outcome.outcome);
    return label === null || l.outcome.at === null ? [] : [{ id: l.id, label, at: l.outcome.at }];
  });
  const shapes = new Map<number, EventShape>();
  for (let i = 0; i < toRead.length; i += EVENTS_PER_READ) {
    const part = toRead.slice(i, i + EVENTS_PER_READ);
    const eventsOf = await eventsOfRows(db, part.map((p) => ({ id: p.id, ...rowOf.get(p.id)! })), shapes);
    for (const p of part) decided.push({ ...p, events: eventsOf(p.id), profile: rowOf.get(p.id)!.profile });
  }
  return { counts, touched, decided, truncated };
}
