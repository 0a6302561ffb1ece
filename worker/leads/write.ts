/**
 * @module The statements that store rescored leads, for a caller's D1 batch. Every writer of lead
 * scores goes through here, so every one is guarded the same way against lost updates.
 *
 * Existing leads are written set-based: whatever their number, one UPDATE … FROM json_each that
 * writes each at the rev read and the check that it wrote them all, and one INSERT of transitions.
 * A recompute chunk of thousands of leads thus costs a handful of statements, not thousands. A
 * live event's one lead is bound as it is, in the same statements' other form: D1 counts a row
 * read for each element of a JSON parameter.
 */
import { historyLayout, historySql, type HistoryLayout, type HistoryWrite } from '../db/lead-history';
import type { leads } from '../db/schema';
import { failUnless, jsonParts, MAX_JSON_PARAM, textFor, type Condition, type Statement } from '../db/statements';
import { ApiError } from '../lib/errors';
import { groupBy } from '../lib/group';
import { newestSeqSql } from '../db/transition-seq';
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
 * its `rowid` when read with it (see `byRowid`); and, when read, its stage, exclusion and event
 * tally, which an update then leaves out where they stay as they are (see `Moves`).
 */
export type StoredLead = Pick<LeadRow, 'id' | 'siteId' | 'rev' | 'score' | 'band' | 'nextChangeAt' | 'historyPages'> & {
  rowid?: number;
} & Partial<Pick<LeadRow, 'stage' | 'excludedReason' | 'eventCount' | 'lastEventAt'>>;

/**
 * Whether a statement's leads can be found by rowid: SQLite then goes straight to the row instead
 * of through the index on `id` first, which was about a fifth of a recompute's UPDATE. The guard of
 * the same batch checks id and rev at that rowid, so a rowid taken by another lead since the read
 * fails the batch like any other change.
 */
const byRowid = (rows: readonly Pick<StoredLead, 'rowid'>[]) => rows.every((r) => r.rowid !== undefined);

/** A value of a row of `json_each` (`j`), by its index in the row's array. */
const at = (i: number) => `j.value ->> ${i}`;

/** The history a row's `h`-th value makes when it is a layout's row (an array), else `otherwise`. */
const historyAt = (h: number, siteId: string, otherwise: string) =>
  `CASE WHEN json_type(j.value, '$[${h}]') = 'array' THEN ${historySql(`(j.value -> ${h})`, siteId)} ELSE ${otherwise} END`;

/**
 * Inserts new leads, updates existing ones only if their `rev` is still the one read (otherwise the
 * guard fails the whole batch and the caller redoes its work from a fresh read), and appends the
 * transitions in the order given.
 *
 * Every statement is set-based, its rows in a JSON parameter of at most `maxJson` units (as few
 * statements as that allows, see `jsonParts`), and keeps its SQL text (see `db/statements`): built
 * by drizzle, these statements were some 8% of a collect request's CPU.
 */
export function leadWrites(items: readonly LeadWrite[], cause: Cause, maxJson = MAX_JSON_PARAM): Statement[] {
  const out: Statement[] = [];
  const layouts = new Map(items.flatMap(({ row, history }) => (history ? [[row.id, historyLayout(history)] as const] : [])));
  const created = items.filter((i): i is LeadWrite & { isNew: true } => i.isNew);
  if (created.length > 0) out.push(...inserts(created, layouts, maxJson));
  const existing = items.filter((i): i is LeadWrite & { isNew: false } => !i.isNew);
  if (existing.length > 0) out.push(...updates(existing, layouts, maxJson));
  // After the leads' rows, which the pages' foreign key needs.
  for (const item of items) out.push(...pageWrites(item, layouts.get(item.row.id)));
  const moves = items.flatMap(({ row, rescored }) =>
    rescored.transitions.map((t) => ({ siteId: row.siteId, values: [row.id, t.type, t.from, t.to, t.reason, t.branch, rescored.values.scoredAt] })),
  );
  out.push(
    ...counterWrites(
      items.map(({ isNew, row, rescored: { values: v } }) => ({
        siteId: row.siteId,
        before: isNew ? null : { band: row.band },
        after: { band: v.band },
      })),
    ),
  );
  for (const [siteId, ofSite] of groupBy(moves, (m) => m.siteId)) out.push(...transitionInserts(siteId, ofSite.map((m) => m.values), cause, maxJson));
  return out;
}

/**
 * The changes of a site's leads, appended in the order given, each numbered after the site's newest
 * (see `db/transition-seq`), which each statement reads once. A live event's one or two are bound as
 * they are: D1 counts a row read for each element of a JSON parameter.
 */
function transitionInserts(siteId: string, moves: readonly unknown[][], cause: Cause, maxJson: number): Statement[] {
  const columns = 'INSERT INTO transitions (seq, site_id, lead_id, type, from_value, to_value, reason, branch, cause, at)';
  if (moves.length <= FEW_TRANSITIONS) {
    // v.column1 is the change's rank, column2… its values.
    const sql = textFor(`transitions:${moves.length}`, () => {
      const v = (i: number) => `v.column${i + 2}`;
      return `${columns} SELECT ${newestSeqSql('?1')} + v.column1, ?1, ${[0, 1, 2, 3, 4, 5].map(v).join(', ')}, ?2, ${v(6)}
        FROM (VALUES ${moves.map((_, k) => `(${k + 1}, ?, ?, ?, ?, ?, ?, ?)`).join(', ')}) AS v`;
    });
    return [{ sql, params: [siteId, cause, ...moves.flat()] }];
  }
  const sql = `${columns} SELECT ${newestSeqSql('?1')} + j.key + 1, ?1, ${[0, 1, 2, 3, 4, 5].map(at).join(', ')}, ?2, ${at(6)} FROM json_each(?3) AS j`;
  return jsonParts(moves, (m) => m, maxJson).map(({ json }) => ({ sql, params: [siteId, cause, json] }));
}

/** Transitions bound one value a parameter (7 a row, and the site and cause once), under D1's 100 parameters a statement. */
const FEW_TRANSITIONS = 14;

/** The columns of a new lead, in the order of its row in `inserts`' JSON. */
const INSERTED = [
  'id', 'site_id', 'email', 'profile', 'fit', 'activity', 'engagement', 'score', 'band', 'stage', 'excluded_reason', 'rev',
  'event_count', 'last_event_at', 'scored_at', 'model_version', 'next_change_at', 'recycled_at', 'created_at', 'updated_at',
] as const;

/**
 * The lead's pages a history write changes: those it no longer keeps deleted (a history taken back
 * whole), those it adds inserted, one a statement as a page may be some 90 KB. Written once every
 * `HISTORY_MAX` events of a lead, so one statement more at those writes only.
 */
function pageWrites({ row, history }: LeadWrite, layout: HistoryLayout | undefined): Statement[] {
  if (!history || !layout) return [];
  const out: Statement[] = [];
  if (history.pages < row.historyPages) {
    out.push({ sql: 'DELETE FROM lead_history_pages WHERE lead_id = ? AND page >= ?', params: [row.id, history.pages] });
  }
  layout.newPages.forEach((packed, i) =>
    out.push({ sql: 'INSERT INTO lead_history_pages (lead_id, page, history) VALUES (?, ?, ?)', params: [row.id, history.pages + i, packed] }),
  );
  return out;
}

/** New leads, whole. The history comes last: packed from the new events, or as the row has it. */
function inserts(items: readonly (LeadWrite & { isNew: true })[], layouts: ReadonlyMap<string, HistoryLayout>, maxJson: number): Statement[] {
  const sql = textFor('lead-insert', () => {
    const h = INSERTED.length;
    return `INSERT INTO leads (${INSERTED.join(', ')}, history_pages, history)
      SELECT ${INSERTED.map((_, i) => at(i)).join(', ')}, ${at(h)},
        ${historyAt(h + 1, at(1), at(h + 1))}
      FROM json_each(?) AS j`;
  });
  const rowOf = ({ row, rescored: { values: v }, profile }: LeadWrite & { isNew: true }) => {
    const layout = layouts.get(row.id);
    return [
      row.id, row.siteId, row.email, profile ?? row.profile, v.fit, v.activity, v.engagement, v.score, v.band, v.stage, v.excludedReason, row.rev,
      v.eventCount, v.lastEventAt, v.scoredAt, v.modelVersion, v.nextChangeAt, row.recycledAt, row.createdAt, v.updatedAt,
      layout ? layout.pages : row.historyPages,
      layout ? layout.row : row.history,
    ];
  };
  return jsonParts(items, rowOf, maxJson).map(({ json }) => ({ sql, params: [json] }));
}

/**
 * Which columns besides the dimension scores an update writes. The indexed ones: score and band
 * (`leads_site_band_score`), the next change (`leads_next_change`); SQLite rewrites an index entry
 * whenever its columns are set, even to the values they had, and D1 bills each entry as a row
 * written. The others: stage and exclusion, which a recompute seldom changes, and the event tally,
 * which it never does; each left out is one value fewer a lead to send and extract (a recompute's
 * UPDATE of 25,000 leads sent 1.06 MB instead of 1.79 MB, and took some 50 ms less in a probe).
 */
interface Moves {
  score: boolean;
  wake: boolean;
  state: boolean;
  tally: boolean;
}

const movesOf = ({ row, rescored: { values: v } }: LeadWrite & { isNew: false }): Moves => ({
  score: v.score !== row.score || v.band !== row.band,
  wake: v.nextChangeAt !== row.nextChangeAt,
  // A value not read counts as changed: written, as it always was.
  state: v.stage !== row.stage || v.excludedReason !== row.excludedReason,
  tally: v.eventCount !== row.eventCount || v.lastEventAt !== row.lastEventAt,
});

const movesKey = (m: Moves) => `${m.score}:${m.wake}:${m.state}:${m.tally}`;

/**
 * The guard and the updates of existing leads, set-based: as few JSON parameters as they fit in.
 * Leads are updated with only the indexed columns that move for them, so SQLite leaves the other
 * indexes alone: a recompute after a change that concerns few leads writes the others' rows only,
 * not three index entries each, and a page view that keeps its lead's next change (see
 * `nextWake`) leaves `leads_next_change` as it is. What every lead of a call shares
 * (the time, the model version: each caller scores its leads at one `now` with one model) is bound
 * once rather than carried per row.
 *
 * Each UPDATE is its own guard: it writes a lead only at the `rev` read (and, found by rowid, with
 * the id read), and the statement after it fails the batch unless it wrote every one (`changes()`,
 * the rows the statement before wrote itself, triggers' writes apart): a lead changed or erased
 * since read fails the batch (see `writeConflicts`). A separate guard looked every lead up once more
 * and sent its id and rev again: for a recompute's 25,000 leads, a statement and its parameter
 * (0.69 MB of JSON for the bench's lead ids, 0.98 MB for ids as ingest makes them); for a live
 * event, its lead's row read twice. An UPDATE that writes a profile keeps
 * the separate guard (see `guarded`).
 */
function updates(existing: readonly (LeadWrite & { isNew: false })[], layouts: ReadonlyMap<string, HistoryLayout>, maxJson: number): Statement[] {
  const { scoredAt, modelVersion, updatedAt } = existing[0]!.rescored.values;
  const mixed = existing.find(({ rescored: { values: v } }) => v.scoredAt !== scoredAt || v.modelVersion !== modelVersion || v.updatedAt !== updatedAt);
  if (mixed) throw new Error(`leadWrites: lead ${mixed.row.id} was scored at another time or with another model than the rest`);
  const [only] = existing;
  if (existing.length === 1 && !only!.history?.added.length) return guarded([only!], updateOne(only!, movesOf(only!), layouts.get(only!.row.id)));
  const groups = new Map<string, { moves: Moves; items: (LeadWrite & { isNew: false })[] }>();
  for (const item of existing) {
    const moves = movesOf(item);
    // Apart, the leads whose profile is written: see `guarded`.
    const key = `${movesKey(moves)}:${item.profile !== undefined}`;
    const group = groups.get(key);
    if (group) group.items.push(item);
    else groups.set(key, { moves, items: [item] });
  }
  return [...groups.values()].flatMap(({ moves, items }) => update(items, moves, layouts, maxJson).flatMap((part) => guarded(part.items, part.statement)));
}

/**
 * An UPDATE of `items` with its guard: the check after it, or, when it writes a profile, the guard
 * before it. A new profile wakes the search index's trigger, and FTS5 keeps the terms pending until
 * the next statement that writes opens its savepoint: the check is one, and the pending terms'
 * writes are what its `changes()` then counts (1 after an UPDATE of two profiles, where a SELECT
 * counts 2). Every identify of two known leads with new traits was refused so.
 */
function guarded(items: readonly (LeadWrite & { isNew: false })[], update: Statement): Statement[] {
  return items.some((i) => i.profile !== undefined) ? [conflictGuard(items.map(({ row }) => row)), update] : [update, allWritten(items.length)];
}

/**
 * Fails the batch unless the statement just before it wrote `n` rows itself (see `updates`). A
 * check: when it comes last, a caller may fold it into its next statement (see `ingest`).
 */
const allWritten = (n: number): Statement => failUnless({ key: 'all-written', sql: (first) => `changes() = ?${first}`, params: [n] });

/** The columns an update sets, in the order of `updatedValues`; the indexed ones that move last. */
const updatedColumns = (moves: Moves) => [
  'fit', 'activity', 'engagement',
  ...(moves.state ? ['stage', 'excluded_reason'] : []),
  ...(moves.tally ? ['event_count', 'last_event_at'] : []),
  ...(moves.score ? ['score', 'band'] : []),
  ...(moves.wake ? ['next_change_at'] : []),
];

/** Pushed onto `into` (a row being made) rather than spread: a recompute makes 100,000 rows of them. */
function updatedValues({ values: v }: Rescored, moves: Moves, into: unknown[] = []): unknown[] {
  into.push(v.fit, v.activity, v.engagement);
  if (moves.state) into.push(v.stage, v.excludedReason);
  if (moves.tally) into.push(v.eventCount, v.lastEventAt);
  if (moves.score) into.push(v.score, v.band);
  if (moves.wake) into.push(v.nextChangeAt);
  return into;
}

/**
 * The UPDATE of one lead whose history, if it changes, is known whole (no new event's shape to look
 * up by key): its values bound as they are. A live event's statement thus reads the lead's row
 * alone, where the set-based form also read its parameter's rows, which D1 counts.
 */
function updateOne(item: LeadWrite & { isNew: false }, moves: Moves, layout: HistoryLayout | undefined): Statement {
  const { row, rescored, profile, history } = item;
  const rowid = byRowid([row]);
  const sql = textFor(`lead-update-one:${movesKey(moves)}:${profile !== undefined}:${history !== undefined}:${rowid}`, () => {
    const set = updatedColumns(moves);
    if (profile !== undefined) set.push('profile');
    if (history !== undefined) set.push('history', 'history_pages');
    return `UPDATE leads SET ${set.map((column) => `${column} = ?`).join(', ')}, scored_at = ?, model_version = ?, updated_at = ?, rev = rev + 1
      WHERE ${rowid ? 'rowid = ? AND id = ?' : 'id = ?'} AND rev = ?`;
  });
  const { scoredAt, modelVersion, updatedAt } = rescored.values;
  return {
    sql,
    params: [
      ...updatedValues(rescored, moves),
      ...(profile !== undefined ? [JSON.stringify(profile)] : []),
      ...(layout ? [layout.row[0], layout.pages] : []),
      scoredAt,
      modelVersion,
      updatedAt,
      ...(rowid ? [row.rowid, row.id] : [row.id]),
      row.rev,
    ],
  };
}

/** The UPDATEs of `items`, which share their time and model version: as few as their JSON fits in, each with the leads it writes. */
function update(
  items: readonly (LeadWrite & { isNew: false })[],
  moves: Moves,
  layouts: ReadonlyMap<string, HistoryLayout>,
  maxJson: number,
): { statement: Statement; items: (LeadWrite & { isNew: false })[] }[] {
  const withProfile = items.some((i) => i.profile);
  const withHistory = items.some((i) => i.history);
  const rowid = byRowid(items.map((i) => i.row));
  const sql = textFor(`lead-update:${movesKey(moves)}:${withProfile}:${withHistory}:${rowid}`, () => {
    const set = updatedColumns(moves).map((column, i) => `${column} = ${at(i + 1)}`);
    let next = set.length + 1;
    // Only when some lead brings one: naming the column wakes the search-index trigger on every row.
    if (withProfile) set.push(`profile = coalesce(${at(next++)}, "leads"."profile")`);
    // Spelled out: inside the shapes' subquery a bare "site_id" would be the shape's.
    if (withHistory) {
      const h = next++;
      set.push(`history = ${historyAt(h, '"leads"."site_id"', '"leads"."history"')}`);
      set.push(`history_pages = coalesce(${at(next++)}, "leads"."history_pages")`);
    }
    // The rev read, and with a rowid the id read, after the values.
    const rev = at(next);
    const found = rowid ? `"leads"."rowid" = ${at(0)} AND "leads"."id" = ${at(next + 1)}` : `"leads"."id" = ${at(0)}`;
    return `UPDATE leads SET ${set.join(', ')}, scored_at = ?, model_version = ?, updated_at = ?, rev = "leads"."rev" + 1
      FROM json_each(?) AS j WHERE ${found} AND "leads"."rev" = ${rev}`;
  });
  const rowOf = ({ row, rescored, profile }: LeadWrite & { isNew: false }) => {
    const out = updatedValues(rescored, moves, [rowid ? row.rowid : row.id]);
    if (withProfile) out.push(profile ?? null);
    if (withHistory) {
      const layout = layouts.get(row.id);
      out.push(layout?.row ?? null, layout?.pages ?? null);
    }
    out.push(row.rev);
    if (rowid) out.push(row.id);
    return out;
  };
  const { scoredAt, modelVersion, updatedAt } = items[0]!.rescored.values;
  return jsonParts(items, rowOf, maxJson).map(({ json, items: part }) => ({ statement: { sql, params: [scoredAt, modelVersion, updatedAt, json] }, items: part }));
}

/**
 * Fails its batch when any of the leads' `rev` is no longer the one read, or the lead is gone (erased
 * meanwhile): see `writeConflicts`. A writer that went on would otherwise attach events, visitors or
 * transitions to a lead that no longer exists, and count it again in the segment counters.
 */
export function conflictGuard(rows: readonly (Pick<LeadRow, 'id' | 'rev'> & { rowid?: number })[]): Statement {
  return failUnless(leadsAsRead(rows));
}

/** That every one of the leads is still at the `rev` read, and, found by rowid, still the lead read. */
function leadsAsRead(rows: readonly (Pick<LeadRow, 'id' | 'rev'> & { rowid?: number })[]): Condition {
  const rowid = byRowid(rows);
  if (rows.length === 1) {
    // One lead, bound as it is: a scalar subquery reads its row alone (NULL when it is gone).
    const [{ id, rev, rowid: at }] = rows as [(typeof rows)[0]];
    return {
      key: `lead-as-read:${rowid}`,
      sql: (f) => `(SELECT rev = ?${f + 1} AND id = ?${f} FROM leads WHERE ${rowid ? `rowid = ?${f + 2}` : `id = ?${f}`})`,
      params: rowid ? [id, rev, at] : [id, rev],
    };
  }
  return {
    key: `leads-as-read:${rowid}`,
    sql: (f) =>
      `NOT EXISTS (SELECT 1 FROM json_each(?${f}) AS j LEFT JOIN leads ON ${rowid ? `"leads"."rowid" = ${at(2)}` : `"leads"."id" = ${at(0)}`}
        WHERE "leads"."rev" IS NOT ${at(1)}${rowid ? ` OR "leads"."id" IS NOT ${at(0)}` : ''})`,
    params: [JSON.stringify(rows.map((r) => (rowid ? [r.id, r.rev, r.rowid] : [r.id, r.rev])))],
  };
}

/**
 * A concurrent writer got there first: a lead changed since read, the same new e-mail was created,
 * an event a write built on recalled state took for new was stored, or an event's shape was erased
 * since read (see `ingest`).
 */
export function isWriteConflict(err: unknown): boolean {
  const text = `${String(err)} ${err instanceof Error && err.cause ? String(err.cause) : ''}`;
  return /CHECK constraint failed: write_conflict|UNIQUE constraint failed: (leads|events)\.|NOT NULL constraint failed: events\.shape_id/.test(text);
}

/** Reads and writes of one change to a lead by the API before it gives up: a lead a live visit keeps changing. */
const MAX_LEAD_ATTEMPTS = 5;

/**
 * Runs `attempt` (a read of the lead, then a write built on it) until its write holds: redone from
 * a fresh read when another writer changed the lead between the two, and answered 503 after
 * `MAX_LEAD_ATTEMPTS` such conflicts, for the client to send again. Sales' updates and erasure go
 * through it.
 */
export async function untilWritten<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isWriteConflict(err)) throw err;
      if (n >= MAX_LEAD_ATTEMPTS) throw new ApiError(503, 'write_conflict', 'the lead is being changed by other requests; send again');
    }
  }
}
