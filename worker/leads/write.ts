/**
 * @module The statements that store rescored leads, for a caller's D1 batch. Every writer of lead
 * scores goes through here, so every one is guarded the same way against lost updates.
 *
 * Existing leads are written set-based: whatever their number, one guard, one UPDATE … FROM
 * json_each and one INSERT of transitions. A recompute chunk of thousands of leads thus costs a
 * handful of statements, not thousands, and a live event the same three.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Database } from '../db/client';
import { historyJson, historySql, type HistoryWrite } from '../db/lead-history';
import { leads, transitions, writeConflicts } from '../db/schema';
import { counterWrites } from '../segments/counters';
import type { Rescored } from './rescore';

export type LeadRow = typeof leads.$inferSelect;
export type Cause = 'event' | 'recompute' | 'decay' | 'sales';

/** A rescored lead to store: a new one whole, an existing one by id and the `rev` it was read at. */
export type LeadWrite = {
  rescored: Rescored;
  /** Written too when given: ingest merges new form fields into the profile. */
  profile?: LeadRow['profile'];
  /** Written too when given: ingest adds the lead's new events to its packed history. */
  history?: HistoryWrite;
} & ({ isNew: true; row: LeadRow } | { isNew: false; row: StoredLead });

/**
 * What the writer needs of a stored lead: its id, the `rev` read, and the values its indexes hold;
 * and its `rowid` when read with it (see `byRowid`).
 */
export type StoredLead = Pick<LeadRow, 'id' | 'siteId' | 'rev' | 'score' | 'band' | 'nextChangeAt'> & { rowid?: number };

/**
 * Whether a statement's leads can be found by rowid: SQLite then goes straight to the row instead
 * of through the index on `id` first, which was about a fifth of a recompute's UPDATE. The guard of
 * the same batch checks id and rev at that rowid, so a rowid taken by another lead since the read
 * fails the batch like any other change.
 */
const byRowid = (rows: readonly Pick<StoredLead, 'rowid'>[]) => rows.every((r) => r.rowid !== undefined);

/**
 * Inserts new leads, updates existing ones only if their `rev` is still the one read (otherwise the
 * guard fails the whole batch and the caller redoes its work from a fresh read), and appends the
 * transitions in the order given.
 */
export function leadWrites(db: Database, items: readonly LeadWrite[], cause: Cause): BatchItem<'sqlite'>[] {
  const out: BatchItem<'sqlite'>[] = [];
  for (const item of items) {
    if (!item.isNew) continue;
    const history = item.history ? { history: historySql(sql`${JSON.stringify(historyJson(item.history))}`, sql`${item.row.siteId}`) } : {};
    out.push(db.insert(leads).values({ ...item.row, ...(item.profile ? { profile: item.profile } : {}), ...item.rescored.values, ...history }));
  }
  // Statements of at most 2,000 leads keep each JSON parameter far below D1's 2 MB limit on a value.
  const existing = items.filter((i): i is LeadWrite & { isNew: false } => !i.isNew);
  for (let i = 0; i < existing.length; i += 2000) out.push(...updates(db, existing.slice(i, i + 2000)));
  const moves = items.flatMap(({ row, rescored }) =>
    rescored.transitions.map((t) => [row.siteId, row.id, t.type, t.from, t.to, t.reason, t.branch, rescored.values.scoredAt]),
  );
  // drizzle lists every column of the table, in schema order; seq NULL lets SQLite number the row.
  // Rows go in the order given (json_each's key), so the feed sees a lead's changes in order.
  out.push(
    ...counterWrites(
      db,
      items.map(({ isNew, row, rescored: { values: v } }) => ({
        siteId: row.siteId,
        before: isNew ? null : { band: row.band, score: row.score },
        after: { band: v.band, score: v.score },
      })),
    ),
  );
  for (let i = 0; i < moves.length; i += 2000) {
    out.push(
      db.insert(transitions).select(sql`SELECT NULL, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3,
          j.value ->> 4, j.value ->> 5, j.value ->> 6, ${cause}, j.value ->> 7
        FROM json_each(${JSON.stringify(moves.slice(i, i + 2000))}) AS j ORDER BY j.key`),
    );
  }
  return out;
}

/**
 * The guard and the updates of existing leads, set-based: one JSON parameter for all of them.
 * Leads whose score, band and next change stay the same are updated without those columns, so
 * SQLite leaves the indexes on them alone: a recompute after a change that concerns few leads
 * writes the others' rows only, not three index entries each. What every lead of a call shares
 * (the time, the model version: each caller scores its leads at one `now` with one model) is bound
 * once rather than carried per row.
 *
 * The guard stays a statement of its own: folded into the UPDATE (`AND rev = …`, then a check of
 * `changes()`), it refused batches whose revs all matched in the fuzz test's database, where
 * triggers log every write.
 */
function updates(db: Database, existing: readonly (LeadWrite & { isNew: false })[]): BatchItem<'sqlite'>[] {
  const { scoredAt, modelVersion, updatedAt } = existing[0]!.rescored.values;
  const mixed = existing.find(({ rescored: { values: v } }) => v.scoredAt !== scoredAt || v.modelVersion !== modelVersion || v.updatedAt !== updatedAt);
  if (mixed) throw new Error(`leadWrites: lead ${mixed.row.id} was scored at another time or with another model than the rest`);
  const moves = ({ row, rescored: { values: v } }: LeadWrite & { isNew: false }) =>
    v.score !== row.score || v.band !== row.band || v.nextChangeAt !== row.nextChangeAt;
  const moved = existing.filter(moves);
  const still = existing.filter((item) => !moves(item));
  return [
    conflictGuard(db, existing.map(({ row }) => row)),
    ...(moved.length ? [update(db, moved, true)] : []),
    ...(still.length ? [update(db, still, false)] : []),
  ];
}

/** One UPDATE of `items`, which share their time and model version. */
function update(db: Database, items: readonly (LeadWrite & { isNew: false })[], indexed: boolean): BatchItem<'sqlite'> {
  const withProfile = items.some((i) => i.profile);
  const withHistory = items.some((i) => i.history);
  const rowid = byRowid(items.map((i) => i.row));
  const rows = items.map(({ row, rescored: { values: v }, profile, history }) => [
    rowid ? row.rowid : row.id,
    v.fit,
    v.activity,
    v.engagement,
    v.stage,
    v.excludedReason,
    v.eventCount,
    v.lastEventAt,
    ...(indexed ? [v.score, v.band, v.nextChangeAt] : []),
    ...(withProfile ? [profile ?? null] : []),
    ...(withHistory ? [history ? historyJson(history) : null] : []),
  ]);
  const at = (i: number) => sql.raw(`j.value ->> ${i}`);
  const { scoredAt, modelVersion, updatedAt } = items[0]!.rescored.values;
  const set = {
    fit: at(1),
    activity: at(2),
    engagement: at(3),
    stage: at(4),
    excludedReason: at(5),
    eventCount: at(6),
    lastEventAt: at(7),
    ...(indexed ? { score: at(8), band: at(9), nextChangeAt: at(10) } : {}),
    // Only when some lead brings one: naming the column wakes the search-index trigger on every row.
    ...(withProfile ? { profile: sql`coalesce(${at(indexed ? 11 : 8)}, ${leads.profile})` } : {}),
    ...(withHistory ? { history: historyUpdate((indexed ? 11 : 8) + (withProfile ? 1 : 0)) } : {}),
    scoredAt,
    modelVersion,
    updatedAt,
    rev: sql`${leads.rev} + 1`,
  };
  const key = rowid ? sql`"leads"."rowid"` : leads.id;
  return db.update(leads).set(set).from(sql`json_each(${JSON.stringify(rows)}) AS j`).where(sql`${key} = ${at(0)}`);
}

/** The history of a row of an UPDATE … FROM json_each: the new one if the row brings one, else as is. */
function historyUpdate(i: number): SQL {
  const spec = sql.raw(`(j.value -> ${i})`);
  // Spelled out: drizzle leaves an UPDATE's columns unqualified, and inside the shapes' subquery a
  // bare "site_id" would be the shape's.
  return sql`CASE WHEN json_type(j.value, ${`$[${i}]`}) = 'array' THEN ${historySql(spec, sql.raw('"leads"."site_id"'))} ELSE "leads"."history" END`;
}

/**
 * Fails its batch when any of the leads' `rev` is no longer the one read, or the lead is gone (erased
 * meanwhile): see `writeConflicts`. A writer that went on would otherwise attach events, visitors or
 * transitions to a lead that no longer exists, and count it again in the segment counters.
 */
export const conflictGuard = (db: Database, rows: readonly (Pick<LeadRow, 'id' | 'rev'> & { rowid?: number })[]) => {
  const rowid = byRowid(rows);
  const at = (i: number) => sql.raw(`j.value ->> ${i}`);
  return db.insert(writeConflicts).select((qb) =>
    qb
      .select({ leadId: sql<string>`${at(0)}`.as('lead_id') })
      .from(sql`json_each(${JSON.stringify(rows.map((r) => (rowid ? [r.id, r.rev, r.rowid] : [r.id, r.rev])))}) AS j`)
      .leftJoin(leads, rowid ? sql`"leads"."rowid" = ${at(2)}` : sql`${leads.id} = ${at(0)}`)
      .where(rowid ? sql`${leads.rev} IS NOT ${at(1)} OR ${leads.id} IS NOT ${at(0)}` : sql`${leads.rev} IS NOT ${at(1)}`),
  );
};

/**
 * A concurrent writer got there first: a lead changed since read, the same new e-mail was created,
 * an event a write built on recalled state took for new was stored, or an event's shape was erased
 * since read (see `ingest`).
 */
export function isWriteConflict(err: unknown): boolean {
  const text = `${String(err)} ${err instanceof Error && err.cause ? String(err.cause) : ''}`;
  return /CHECK constraint failed: write_conflict|UNIQUE constraint failed: (leads|events)\.|NOT NULL constraint failed: events\.shape_id/.test(text);
}
