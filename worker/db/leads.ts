/** @module Reading leads: the list with filters and a keyset cursor, one lead, its history. */
import { and, asc, desc, eq, gt, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Database } from './client';
import { eventWithShapeColumns, logOfLeads, shapeOfEvent, shapesOfHistories, storedHistories } from './lead-events';
import { historyEvents } from './lead-history';
import { bySeq, changesOfLeads } from './lead-transitions';
import { shapeCache } from './shape-cache';
import type { EventShape } from '../scoring/event-shapes';
import { chronological } from '../scoring/score';
import type { ScoringEvent } from '../scoring/types';
import { eventShapes, events, feedback, leads, transitions, visitors } from './schema';

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
 * A search whose term the trigram index finds in at most this many leads (of every site) reads
 * those leads and sorts them; a commoner term walks the site's leads by score instead, and stops
 * once a page is found. Either way the page costs some thousands of rows at most.
 */
export const SEARCH_CANDIDATES = 2000;

/** A value of the statement's one-row `args` table: bound once, however many runs read it. */
const arg = (name: string) => sql.raw(`(SELECT ${name} FROM args)`);

/**
 * A page of leads, by score descending then id. There is no (site, score) index to walk: keeping one
 * beside (site, band, score) doubled the index upkeep of every rescore. Bands partition the leads,
 * so without a band filter each band (and the excluded, whose band is null) is read as its own
 * run down that index, and the runs are merged by SQLite in the same statement: only the page's
 * leads are read whole and sent back, never a sort of the whole site.
 *
 * A search term of three characters or more is looked up in the trigram index (see the lead_search
 * migration) first, at most `SEARCH_CANDIDATES` + 1 matches: when that is all of them, the page is
 * sorted out of those leads alone. Otherwise the term is common and the band runs walk the site's
 * leads, each testing the lead's search text, until a page is full. Left to itself SQLite walked
 * the site's leads for every term, testing each against the index's whole answer.
 */
export async function listLeads(
  db: Database,
  siteId: string,
  bandNames: readonly string[],
  filter: LeadFilter,
  limit: number,
  after?: Cursor,
) {
  const q = filter.q?.toLowerCase();
  // Three characters or more, and no LIKE wildcard to escape: the trigram index answers. Shorter
  // terms have no trigram, so they read the leads themselves.
  const indexed = q !== undefined && q.length >= 3 && !/[\\%_]/.test(q);
  // An excluded lead has no band; a lead in a band is not excluded.
  const runs: SQL[] =
    filter.band !== undefined
      ? [eq(leads.band, filter.band)]
      : [
          ...(filter.excluded === true ? [] : [...new Set(bandNames)].map((b) => eq(leads.band, b))),
          ...(filter.excluded === false ? [] : [isNull(leads.band)]),
        ];
  if (runs.length === 0) return { page: [], next: null };

  const values = {
    site: siteId,
    stage: filter.stage ?? null,
    after_score: after?.score ?? null,
    after_id: after?.id ?? null,
    q: q === undefined ? null : indexed ? `%${q}%` : likeEscape(q),
    n: limit + 1,
  };
  // One run and no search: that run is the page, read straight down the index.
  const merged = runs.length > 1 || indexed;
  // Merged, every run names the same values: bound once in `args`, so that twenty bands stay under
  // D1's 100 bound parameters.
  const v = (name: keyof typeof values) => (merged ? arg(name) : sql`${values[name]}`);
  const where: (SQL | undefined)[] = [eq(leads.siteId, v('site'))];
  if (filter.stage !== undefined) where.push(eq(leads.stage, v('stage')));
  if (filter.excluded !== undefined) {
    where.push(filter.excluded ? isNotNull(leads.excludedReason) : isNull(leads.excludedReason));
  }
  if (q && !indexed) {
    where.push(
      or(
        sql`${leads.email} LIKE ${v('q')} ESCAPE '\\'`,
        ...['firstName', 'lastName', 'company'].map((key) => sql`lower(json_extract(${leads.profile}, '$.${sql.raw(key)}')) LIKE ${v('q')} ESCAPE '\\'`),
      ),
    );
  }
  // `score <= s` apart from the tie-break, so that a run seeks to the cursor in the index instead
  // of reading every lead above it.
  if (after) where.push(lte(leads.score, v('after_score')), or(lt(leads.score, v('after_score')), gt(leads.id, v('after_id'))));

  const rows = merged
    ? await mergedRuns(db, values, where, runs, indexed)
    : await db
        .select()
        .from(leads)
        .where(and(...where, runs[0]))
        .orderBy(desc(leads.score), asc(leads.id))
        .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { page, next: rows.length > limit && last ? { score: last.score, id: last.id } : null };
}

/** The runs, and the search's candidates when `indexed`, merged into one page in one statement. */
function mergedRuns(db: Database, values: Record<string, string | number | null>, where: (SQL | undefined)[], runs: SQL[], indexed: boolean) {
  const keys = sql`${leads}.rowid AS r, ${leads.score} AS score, ${leads.id} AS id`;
  const order = sql`ORDER BY ${leads.score} DESC, ${leads.id}`;
  // Counted once: each run reading `found` again would read every candidate again.
  const few = sql`(SELECT yes FROM few)`;
  const walk = (band: SQL, n: SQL) =>
    sql`SELECT * FROM (SELECT ${keys} FROM ${leads} WHERE ${and(...where, band)} ${order} LIMIT ${n})`;
  const arms = indexed
    ? [
        sql`SELECT * FROM (SELECT ${keys} FROM found CROSS JOIN ${leads} ON ${leads}.rowid = found.r
            WHERE ${and(...where, or(...runs))} ${order} LIMIT iif(${few}, ${arg('n')}, 0))`,
        // LIMIT 0 when the candidates were all found: SQLite then never starts the walk.
        ...runs.map((band) =>
          walk(
            sql`${band} AND EXISTS (SELECT 1 FROM lead_search WHERE lead_search.rowid = ${leads}.rowid AND +lead_search.body LIKE ${arg('q')})`,
            sql`iif(${few}, 0, ${arg('n')})`,
          ),
        ),
      ]
    : runs.map((band) => walk(band, arg('n')));
  const args = sql`args(${sql.raw(Object.keys(values).join(', '))}) AS (SELECT ${sql.join(Object.values(values).map((x) => sql`${x}`), sql`, `)})`;
  const ctes = indexed
    ? sql`${args}, found(r) AS MATERIALIZED (SELECT rowid FROM lead_search WHERE body LIKE ${arg('q')} LIMIT ${SEARCH_CANDIDATES + 1}),
          few(yes) AS MATERIALIZED (SELECT count(*) <= ${SEARCH_CANDIDATES} FROM found)`
    : args;
  return db
    .select()
    .from(leads)
    .where(sql`${leads}.rowid IN (WITH ${ctes} SELECT r FROM (${sql.join(arms, sql` UNION ALL `)} ORDER BY score DESC, id LIMIT ${arg('n')}))`)
    .orderBy(desc(leads.score), asc(leads.id));
}

/**
 * One lead with its events and transitions: the events to score it from (`events`), and the latest
 * `timelineLimit` whole, for its timeline (`recent`, oldest first). In one round trip for a lead of
 * at most `timelineLimit` events, all of them read from the log. A longer history is scored from
 * its packed pairs (its row, and a row a page, see `db/lead-history`), with the log's latest events
 * in place of theirs, where reading it all from the log cost two rows an event: the lead page of a
 * lead of 5,002 events read 10,009 rows, 408 now (`lead-history.test.ts`).
 */
export async function leadWithHistory(db: Database, siteId: string, id: string, timelineLimit: number) {
  const of = logOfLeads(siteId, [id]);
  const latestFirst = [desc(events.ts), desc(events.id)];
  const changes = changesOfLeads(siteId, [id]);
  const [lead, latestAttributed, latestBefore, otherChanges, stageChanges, leadFeedback] = await db.batch([
    db.select().from(leads).where(and(eq(leads.siteId, siteId), eq(leads.id, id))),
    db.select(eventWithShapeColumns).from(events).innerJoin(eventShapes, shapeOfEvent).where(of.attributed).orderBy(...latestFirst).limit(timelineLimit + 1),
    db
      .select(eventWithShapeColumns)
      .from(visitors)
      .innerJoin(events, of.beforeIdentify)
      .innerJoin(eventShapes, shapeOfEvent)
      .where(of.visitors)
      .orderBy(...latestFirst)
      .limit(timelineLimit + 1),
    db.select().from(transitions).where(changes.others).orderBy(desc(transitions.seq)).limit(timelineLimit),
    db.select().from(transitions).where(changes.stages).orderBy(desc(transitions.seq)).limit(timelineLimit),
    db.select().from(feedback).where(and(eq(feedback.siteId, siteId), eq(feedback.leadId, id))).orderBy(desc(feedback.seq)),
  ]);
  const row = lead[0];
  if (!row) return null;
  // The two runs of the log (see `logOfLeads`), merged: the latest of both. A browser's clock may
  // stamp an event from before it identified later than one after.
  const latest = chronological([...latestAttributed, ...latestBefore]).reverse().slice(0, timelineLimit + 1);
  const recent = latest.slice(0, timelineLimit).reverse();
  const whole = { lead: row, recent, transitions: bySeq(otherChanges, stageChanges, 'desc').slice(0, timelineLimit), feedback: leadFeedback };
  if (latest.length <= timelineLimit) return { ...whole, events: recent };
  return { ...whole, events: await olderAndRecent(db, row, recent) };
}

/**
 * A long history's events for the engine: its packed pairs, less those of the log's `recent`
 * events, which stand for themselves with their ids (the timeline's scores are found by id).
 */
async function olderAndRecent(db: Database, row: LeadRow, recent: readonly (ScoringEvent & { shapeId: number })[]): Promise<ScoringEvent[]> {
  const { whole } = (await storedHistories(db, [row])).get(row.id)!;
  const shapes = new Map<number, EventShape>();
  await shapesOfHistories(db, [whole], shapeCache, shapes);
  const pair = ({ ts, shapeId }: { ts: number; shapeId: number }) => `${ts}:${shapeId}`;
  const left = new Map<string, number>();
  for (const e of recent) left.set(pair(e), (left.get(pair(e)) ?? 0) + 1);
  const older = whole.filter((e) => {
    const key = pair(e);
    const n = left.get(key);
    if (!n) return true;
    left.set(key, n - 1);
    return false;
  });
  return [...historyEvents(older, shapes), ...recent];
}
