/**
 * @module A lead's changes. Besides its key (site, seq), each change is in one index: a stage change
 * in the stage index (site, stage reached, lead, time), which the model-quality report reads, and
 * every other in the lead index (lead, seq). A change thus writes its row and one entry, where a stage
 * change in both took one more. A lead's changes are the two runs: its own in the lead index, and
 * its stage changes, found in the stage index by lead within each stage a change can reach.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { STAGES, type Stage } from '../scoring/model';
import { inList } from './client';
import { transitions } from './schema';

/** Matches the partial index `transitions_site_stage`: written out, since a bound value would not. */
export const isStageChange = sql.raw(`"transitions"."type" = 'lead.stage_changed'`);
/** Matches the partial index `transitions_lead`, likewise. */
const isOtherChange = sql.raw(`"transitions"."type" <> 'lead.stage_changed'`);
/**
 * A stage change reaching one of `stages`, the list written out (stages are the model's fixed
 * names): SQLite then sees the stage index's two leading columns bound and seeks within each stage,
 * where a bound list (a JSON parameter) left it the key's `site_id` alone.
 */
export const reachesStage = (stages: readonly Stage[]): SQL => sql.raw(`"transitions"."to_value" IN (${stages.map((s) => `'${s}'`).join(', ')})`);

/** Every stage a change can reach, so that SQLite seeks the leads within each in the stage index. */
const anyStage = reachesStage(STAGES);

/** The conditions of the two runs of the changes of `leadIds` (of `siteId`): `others`, and `stages`. */
export function changesOfLeads(siteId: string, leadIds: readonly string[]): { others: SQL; stages: SQL } {
  const lead = inList(transitions.leadId, leadIds);
  return {
    others: and(lead, isOtherChange, eq(transitions.siteId, siteId))!,
    stages: and(eq(transitions.siteId, siteId), isStageChange, anyStage, lead)!,
  };
}

/** The `seq` of every change of the lead, as a subquery of the two runs: what its deliveries name. */
export function seqsOfLead(siteId: string, leadId: string): SQL {
  const { others, stages } = changesOfLeads(siteId, [leadId]);
  return sql`SELECT ${transitions.seq} FROM ${transitions} WHERE ${others} UNION ALL SELECT ${transitions.seq} FROM ${transitions} WHERE ${stages}`;
}

/** Two runs of changes merged by `seq`, each in that order already or not. */
export const bySeq = <T extends { seq: number }>(a: readonly T[], b: readonly T[], order: 'asc' | 'desc' = 'asc'): T[] =>
  [...a, ...b].sort((x, y) => (order === 'asc' ? x.seq - y.seq : y.seq - x.seq));
