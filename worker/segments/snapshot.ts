/**
 * @module The daily side of the band counters, run by the cron: the day's band counts kept for the
 * 30-day chart, and once a day an exact recount of the counters from the leads, which heals any
 * drift (a write path that forgot them, a restored backup) at the cost of one pass a day.
 */
import { and, eq, gte, sql } from 'drizzle-orm';
import type { Database } from '../db/client';
import { bandDaily, leads, robotDaily, segmentHistograms, sites, type SegmentHistogram } from '../db/schema';
import { dayOf } from '../lib/day';


/** Brings today's counts of every site up to date; recounts a site whose day has just begun. */
export async function snapshotSegments(db: Database, now: number): Promise<void> {
  const today = dayOf(now);
  const [all, started] = await db.batch([
    db.select({ id: sites.id }).from(sites),
    db.selectDistinct({ siteId: bandDaily.siteId }).from(bandDaily).where(eq(bandDaily.day, today)),
  ]);
  const begun = new Set(started.map((r) => r.siteId));
  for (const { id } of all) {
    const recount = begun.has(id)
      ? []
      : [
          db
            .insert(segmentHistograms)
            .select(
              sql`SELECT ${id}, json_object(
                'band', json((SELECT json_group_object(b, n) FROM (SELECT coalesce(band, '') AS b, count(*) AS n FROM ${leads} WHERE site_id = ${id} GROUP BY 1))))`,
            )
            .onConflictDoUpdate({ target: segmentHistograms.siteId, set: { counts: sql`excluded.counts` } }),
        ];
    await db.batch([
      ...recount,
      db
        .insert(bandDaily)
        .select(sql`SELECT h.site_id, ${today}, j.key, j.value FROM ${segmentHistograms} AS h, json_each(h.counts, '$.band') AS j WHERE h.site_id = ${id}`)
        .onConflictDoUpdate({ target: [bandDaily.siteId, bandDaily.day, bandDaily.band], set: { count: sql`excluded.count` } }),
    ] as unknown as Parameters<typeof db.batch>[0]);
  }
}

/** The site's counters, one row read: for a batch of the caller's, read with `countsIn`. */
export const countersOf = (db: Database, siteId: string) =>
  db.select({ counts: segmentHistograms.counts }).from(segmentHistograms).where(eq(segmentHistograms.siteId, siteId));

/** The counters a `countersOf` read found: none yet for a site without leads. */
export const countsIn = (rows: readonly { counts: SegmentHistogram }[]): SegmentHistogram => rows[0]?.counts ?? { band: {} };

/** Leads per band at the end of each day from `since` (`YYYY-MM-DD`) on, oldest first. */
export const bandDaysOf = (db: Database, siteId: string, since: string) =>
  db
    .select({ day: bandDaily.day, band: bandDaily.band, count: bandDaily.count })
    .from(bandDaily)
    .where(and(eq(bandDaily.siteId, siteId), gte(bandDaily.day, since)))
    .orderBy(bandDaily.day);

/** Robots' requests and events per day from `since` on, oldest first. */
export const robotDaysOf = (db: Database, siteId: string, since: string) =>
  db
    .select({ day: robotDaily.day, requests: robotDaily.requests, events: robotDaily.events })
    .from(robotDaily)
    .where(and(eq(robotDaily.siteId, siteId), gte(robotDaily.day, since)))
    .orderBy(robotDaily.day);
