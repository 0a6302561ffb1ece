/** @module Reading leads: the list with filters and a keyset cursor, one lead, its history. */
import { and, asc, desc, eq, isNotNull, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Database } from './client';
import { eventWithShapeColumns, shapeOfEvent } from './lead-events';
import { eventShapes, events, feedback, leads, transitions } from './schema';

export type LeadRow = typeof leads.$inferSelect;

export interface LeadFilter {
  band?: string;
  stage?: string;
  excluded?: boolean;
  q?: string;
}

/** Position in the list, ordered by score descending then id: stable while leads change. */
export interface Cursor {
  score: number;
  id: string;
}

const likeEscape = (s: string) => `%${s.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;

/**
 * A page of leads, by score descending then id. There is no (site, score) index to walk: keeping one
 * beside (site, band, score) doubled the index upkeep of every rescore. Bands partition the leads,
 * so without a band filter each band (and the excluded, whose band is null) is read as its own
 * run down that index, all in one batch, and the runs are merged here: still a keyset page, still
 * one round trip, never a sort of the whole site.
 */
export async function listLeads(
  db: Database,
  siteId: string,
  bandNames: readonly string[],
  filter: LeadFilter,
  limit: number,
  after?: Cursor,
) {
  const where: (SQL | undefined)[] = [eq(leads.siteId, siteId)];
  if (filter.stage !== undefined) where.push(eq(leads.stage, filter.stage));
  if (filter.excluded !== undefined) {
    where.push(filter.excluded ? isNotNull(leads.excludedReason) : isNull(leads.excludedReason));
  }
  if (filter.q) {
    const q = filter.q.toLowerCase();
    const pattern = likeEscape(q);
    // Three characters or more, and no LIKE wildcard to escape: the trigram index answers (see the
    // lead_search migration). Shorter terms have no trigram, so they read the leads themselves.
    where.push(
      q.length >= 3 && !/[\\%_]/.test(q)
        ? sql`${leads}.rowid IN (SELECT rowid FROM lead_search WHERE body LIKE ${`%${q}%`})`
        : or(
            sql`${leads.email} LIKE ${pattern} ESCAPE '\\'`,
            ...['firstName', 'lastName', 'company'].map((key) => sql`lower(json_extract(${leads.profile}, ${`$.${key}`})) LIKE ${pattern} ESCAPE '\\'`),
          ),
    );
  }
  if (after) where.push(or(lt(leads.score, after.score), and(eq(leads.score, after.score), sql`${leads.id} > ${after.id}`)));

  // An excluded lead has no band; a lead in a band is not excluded.
  const runs: SQL[] =
    filter.band !== undefined
      ? [eq(leads.band, filter.band)]
      : [
          ...(filter.excluded === true ? [] : [...new Set(bandNames)].map((b) => eq(leads.band, b))),
          ...(filter.excluded === false ? [] : [isNull(leads.band)]),
        ];
  const run = (band: SQL) =>
    db
      .select()
      .from(leads)
      .where(and(...where, band))
      .orderBy(desc(leads.score), asc(leads.id))
      .limit(limit + 1);
  const [first, ...rest] = runs.map(run);
  const rows = first ? (await db.batch([first, ...rest])).flat() : [];
  rows.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { page, next: rows.length > limit && last ? { score: last.score, id: last.id } : null };
}

/** One lead with its events and transitions, in one round trip. */
export async function leadWithHistory(db: Database, siteId: string, id: string, historyLimit: number) {
  const [lead, leadEvents, leadTransitions, leadFeedback] = await db.batch([
    db.select().from(leads).where(and(eq(leads.siteId, siteId), eq(leads.id, id))),
    db
      .select(eventWithShapeColumns)
      .from(events)
      .innerJoin(eventShapes, shapeOfEvent)
      .where(eq(events.leadId, id))
      .orderBy(asc(events.ts), asc(events.id)),
    db
      .select()
      .from(transitions)
      .where(and(eq(transitions.siteId, siteId), eq(transitions.leadId, id)))
      .orderBy(desc(transitions.seq))
      .limit(historyLimit),
    db.select().from(feedback).where(and(eq(feedback.siteId, siteId), eq(feedback.leadId, id))).orderBy(desc(feedback.seq)),
  ]);
  if (!lead[0]) return null;
  return { lead: lead[0], events: leadEvents, transitions: leadTransitions, feedback: leadFeedback };
}
