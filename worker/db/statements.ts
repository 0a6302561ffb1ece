/**
 * @module Statements as D1 runs them, SQL text and its bound values, for the batch collect writes.
 * drizzle builds a statement's text anew on every call, walking each column, table and subquery of
 * it: a CPU profile of collect put that at a quarter of the worker's busy time. The statements every
 * collect request makes keep their text, made once for each shape (`textFor`), and only bind their
 * values; the rest come from drizzle as it builds them (`fromDrizzle`).
 */
import type { BatchItem } from 'drizzle-orm/batch';

export interface Statement {
  sql: string;
  params: unknown[];
  /**
   * Set on a statement that only checks (see `failUnless`): the condition it holds its batch to. A
   * caller whose next statement can carry that condition instead folds it in (see `ingest`): one
   * statement fewer in the batch, and every statement costs D1 its own work.
   */
  check?: Condition;
}

/** A statement drizzle built; every query builder a batch takes has `toSQL`, which its type leaves out. */
export const fromDrizzle = (query: BatchItem<'sqlite'>): Statement => {
  const { sql, params } = (query as unknown as { toSQL(): Statement }).toSQL();
  return { sql, params };
};

const texts = new Map<string, string>();

/** The text of a statement of this `shape` (a key naming everything its text depends on), made once. */
export function textFor(shape: string, make: () => string): string {
  let text = texts.get(shape);
  if (text === undefined) texts.set(shape, (text = make()));
  return text;
}

/** `rows` copies of `row` (`(?, ?, …)`), comma-separated: a multi-row VALUES list. */
export const placeholders = (rows: number, row: string) => Array.from({ length: rows }, () => row).join(', ');

/**
 * A condition a statement embeds: an INSERT's rows kept on it (`insertedRows`) or failing without it
 * (`insertedRowsOrFail`), a check of its own (`failUnless`). Its SQL, given the number of its first
 * bound value, those values, and a key naming its text.
 */
export interface Condition {
  key: string;
  sql: (first: number) => string;
  params: unknown[];
}

/** Conditions that must all hold, as one; none when there are none. */
export function allOf(conditions: readonly (Condition | undefined)[]): Condition | undefined {
  const all = conditions.filter((c): c is Condition => c !== undefined);
  if (all.length <= 1) return all[0];
  return {
    key: all.map((c) => c.key).join('&'),
    sql: (first) => {
      const parts: string[] = [];
      for (const c of all) {
        parts.push(`(${c.sql(first)})`);
        first += c.params.length;
      }
      return parts.join(' AND ');
    },
    params: all.flatMap((c) => c.params),
  };
}

/**
 * Fails its batch unless `condition` holds when it runs: it then inserts into `write_conflicts`,
 * whose CHECK refuses every row (see `isWriteConflict`). A NULL counts as not holding.
 */
export function failUnless(condition: Condition): Statement {
  return {
    sql: textFor(`fail-unless:${condition.key}`, () => `INSERT INTO write_conflicts (lead_id) SELECT 'changed since read' WHERE NOT coalesce(${condition.sql(1)}, 0)`),
    params: condition.params,
    check: condition,
  };
}

/**
 * The rows of a multi-row INSERT: a VALUES list, or, given `onlyIf` (SQL given the number of its
 * first bound value, bound after the rows'), the same rows inserted only if it holds.
 */
export function insertedRows(rows: number, row: string, onlyIf?: Condition['sql']): string {
  if (!onlyIf) return `VALUES ${placeholders(rows, row)}`;
  const values = rows * (row.split('?').length - 1);
  return `SELECT * FROM (VALUES ${placeholders(rows, row)}) WHERE ${onlyIf(values + 1)}`;
}

/**
 * The rows of a multi-row INSERT into `columns` that fails its batch unless `held` holds: each row's
 * `nulled` column is made NULL when it does not, which the column, NOT NULL, refuses. `held` is
 * written first and numbers its bound values from 1, so they are bound before the rows'; its
 * subqueries, which do not depend on the row, are evaluated once.
 */
export function insertedRowsOrFail<C extends string>(rows: number, row: string, columns: readonly C[], nulled: C, held: Condition['sql']): string {
  const select = columns.map((column, i) => (column === nulled ? `CASE WHEN ${held(1)} THEN v.column${i + 1} END` : `v.column${i + 1}`));
  // `WHERE true`: an upsert clause after the FROM would otherwise be read as a join's ON.
  return `SELECT ${select.join(', ')} FROM (VALUES ${placeholders(rows, row)}) AS v WHERE true`;
}

/**
 * The most a set-based statement's JSON parameter holds, in UTF-16 units: D1 refuses a bound value
 * over 2 MB, and a unit is at most 3 bytes of UTF-8. The fewer statements the better: a statement
 * is undone alone when it fails, so the pages it changes are journaled for it, and a recompute's
 * updates move index entries across the same pages in every one. An UPDATE of 100,000 leads in
 * batches of 25,000 took 2.41–2.67 s in statements of 2,000 leads, 1.81–1.97 s in statements of
 * 10,000 (local D1).
 */
export const MAX_JSON_PARAM = 600_000;

/**
 * `items` as few JSON parameters as fit within `max` units each, in order: each part's array of
 * rows (`rowOf`), and the items it holds. A row longer than `max` makes a part of its own.
 */
export function jsonParts<T>(items: readonly T[], rowOf: (item: T) => unknown, max = MAX_JSON_PARAM): { json: string; items: T[] }[] {
  const parts: { json: string; items: T[] }[] = [];
  let rows: string[] = [];
  let held: T[] = [];
  // The part's length as JSON: its brackets, its rows and the commas between them.
  let size = 2;
  const close = () => parts.push({ json: `[${rows.join(',')}]`, items: held });
  for (const item of items) {
    const row = JSON.stringify(rowOf(item));
    if (held.length > 0 && size + 1 + row.length > max) {
      close();
      rows = [];
      held = [];
      size = 2;
    }
    size += (held.length > 0 ? 1 : 0) + row.length;
    rows.push(row);
    held.push(item);
  }
  if (held.length > 0) close();
  return parts;
}

/** The statements in one batch (one transaction), in order. */
export const runBatch = (d1: D1Database, statements: readonly Statement[]): Promise<D1Result[]> =>
  d1.batch(statements.map((s) => d1.prepare(s.sql).bind(...s.params)));
