/**
 * @module The visitors' share of an ingest write batch: each visitor upserted with its times and
 * pace advanced, and its lead written only where the batch gives it one.
 */
import { chunksFor } from '../db/client';
import type { visitors } from '../db/schema';
import { insertedRows, textFor, type Condition, type Statement } from '../db/statements';
import { paceStepSql } from './pace';

export type VisitorWrite = Omit<typeof visitors.$inferInsert, 'siteId'> & {
  id: string;
  /** The batch identified the visitor (or a new visitor comes with its lead). */
  setsLead: boolean;
};

/**
 * Upserts, one per chunk of visitors, those that get a lead apart from the others. Naming `lead_id`
 * in an upsert's SET makes SQLite rewrite the visitor's entry in the lead index, even unchanged: a
 * row written more for every event of an identified visitor. Left out, the stored lead stands, which
 * is also what a concurrent identify wrote; a visitor this batch stores events of as anonymous that
 * got a lead meanwhile fails the batch (`visitorGuard` in `ingest`).
 *
 * `guess`: the visitors were not read (see `anonymous-guess`), and each brings its page view's time
 * at most as `paceStart`: the rows are written only if the guess holds, D1 advances the stored pace
 * (`paceStepSql`), and they come back as they now stand, as the isolate recalls visitors.
 */
export function visitorWrites(siteId: string, rows: readonly VisitorWrite[], guess?: Condition): Statement[] {
  const out: Statement[] = [];
  for (const setsLead of [false, true]) {
    for (const chunk of chunksFor(rows.filter((r) => r.setsLead === setsLead), 8)) {
      const sql = textFor(`visitors:${chunk.length}:${setsLead}:${guess?.key}`, () => {
        const pace = guess ? paceStepSql('pace_start', 'pace_count', 'excluded.pace_start') : { start: 'excluded.pace_start', count: 'excluded.pace_count' };
        return `INSERT INTO visitors (site_id, id, lead_id, first_seen, last_seen, pace_start, pace_count, robot_since)
        ${insertedRows(chunk.length, '(?, ?, ?, ?, ?, ?, ?, ?)', guess?.sql)}
        ON CONFLICT (id, site_id) DO UPDATE SET
          first_seen = min(first_seen, excluded.first_seen),
          last_seen = max(last_seen, excluded.last_seen),
          ${setsLead ? 'lead_id = excluded.lead_id,' : ''}
          pace_start = ${pace.start},
          pace_count = ${pace.count},
          robot_since = coalesce(robot_since, excluded.robot_since)
        ${guess ? 'RETURNING lead_id AS leadId, pace_start AS paceStart, pace_count AS paceCount, robot_since AS robotSince' : ''}`;
      });
      // Read, advanced and written whole: two requests of one visitor at once may count a view or
      // two fewer, which a pace measured in hundreds can afford.
      const params = chunk.flatMap((r) => [siteId, r.id, r.leadId ?? null, r.firstSeen, r.lastSeen, r.paceStart ?? null, r.paceCount ?? 0, r.robotSince ?? null]);
      out.push({ sql, params: [...params, ...(guess?.params ?? [])] });
    }
  }
  return out;
}
