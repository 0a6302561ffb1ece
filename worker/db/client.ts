/** @module A drizzle client per D1 binding, and the SQL helpers every query module shares. */
import { sql, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';

const client = (d1: D1Database) => drizzle(d1);
export type Database = ReturnType<typeof client>;

const clients = new WeakMap<D1Database, Database>();

/**
 * The client of a binding, made once for as long as the binding lives: a client holds nothing of a
 * request. Without the schema: given it, drizzle builds its relational-query config from every
 * table on each client made, some 5% of a collect request's CPU in a profile, for `db.query` that
 * nothing uses.
 */
export function database(d1: D1Database): Database {
  let db = clients.get(d1);
  if (!db) clients.set(d1, (db = client(d1)));
  return db;
}

/** Values a list binds one a parameter at most: past them, one JSON parameter (see `inList`). */
const PLAIN_VALUES = 40;

/**
 * `column IN (values)`. D1 counts a row read for each element of a JSON parameter, so a few values
 * are bound one a parameter (`= ?`, `IN (?, ?, …)`), which reads no row for them. Past
 * `PLAIN_VALUES`, they are bound as one JSON parameter: D1 allows at most 100 bound parameters a
 * statement, and a batch of 100 events must not need several statements to look up.
 */
export const inList = (column: SQLiteColumn, values: readonly (string | number)[]): SQL => {
  if (values.length === 1) return sql`${column} = ${values[0]}`;
  if (values.length <= PLAIN_VALUES) return sql`${column} IN (${sql.join(values.map((v) => sql`${v}`), sql`, `)})`;
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
};

/** Splits rows so that a multi-row insert stays under D1's 100 bound parameters. */
export function chunksFor<T>(rows: readonly T[], columns: number): T[][] {
  const size = Math.max(1, Math.floor(100 / columns));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}
