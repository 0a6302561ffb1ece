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
 * A condition an INSERT's rows are kept on (see `insertedRows`): its SQL, given the number of its
 * first bound value (the rows' come first, as plain `?`), those values, and a key naming its text.
 */
export interface Condition {
  key: string;
  sql: (first: number) => string;
  params: unknown[];
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

/** The statements in one batch (one transaction), in order. */
export const runBatch = (d1: D1Database, statements: readonly Statement[]): Promise<D1Result[]> =>
  d1.batch(statements.map((s) => d1.prepare(s.sql).bind(...s.params)));
