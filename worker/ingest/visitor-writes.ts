/**
 * @module The visitors' share of an ingest write batch: each visitor upserted with its times and
 * pace advanced, and its lead written only where the batch gives it one.
 */
import { sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { chunksFor, type Database } from '../db/client';
import { visitors } from '../db/schema';

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
 */
export function visitorWrites(db: Database, siteId: string, rows: readonly VisitorWrite[]): BatchItem<'sqlite'>[] {
  const out: BatchItem<'sqlite'>[] = [];
  for (const setsLead of [false, true]) {
    const group = rows.filter((r) => r.setsLead === setsLead).map(({ setsLead: _, ...r }) => ({ siteId, ...r }));
    for (const chunk of chunksFor(group, 8)) {
      out.push(
        db
          .insert(visitors)
          .values(chunk)
          .onConflictDoUpdate({
            target: [visitors.id, visitors.siteId],
            set: {
              firstSeen: sql`min(${visitors.firstSeen}, excluded.first_seen)`,
              lastSeen: sql`max(${visitors.lastSeen}, excluded.last_seen)`,
              ...(setsLead ? { leadId: sql`excluded.lead_id` } : {}),
              // Read, advanced and written whole: two requests of one visitor at once may count a
              // view or two fewer, which a pace measured in hundreds can afford.
              paceStart: sql`excluded.pace_start`,
              paceCount: sql`excluded.pace_count`,
              robotSince: sql`coalesce(${visitors.robotSince}, excluded.robot_since)`,
            },
          }),
      );
    }
  }
  return out;
}
