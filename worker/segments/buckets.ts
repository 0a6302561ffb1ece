/** @module Score buckets of the histogram, as the recount groups leads into them. */
import { sql, type SQL } from 'drizzle-orm';
import type { AnySQLiteColumn } from 'drizzle-orm/sqlite-core';

/** Points per bucket: fine enough to show band boundaries (multiples of 5 in practice), few rows. */
export const BUCKET = 5;

/**
 * The lower bound of the bucket holding `score` (`floor(score / BUCKET) * BUCKET`), in SQL, as text:
 * SQLite has no floor() without its math extension. The width is written into the statement: D1
 * binds every JavaScript number as a REAL, and an integer times a REAL turns into "45.0".
 */
export const bucketSql = (score: AnySQLiteColumn): SQL => {
  const width = sql.raw(String(BUCKET));
  return sql`CAST((CAST(${score} / ${width} AS INTEGER) - (${score} < 0 AND ${score} / ${width} <> CAST(${score} / ${width} AS INTEGER))) * ${width} AS TEXT)`;
};
