/** @module Score buckets of the histogram, as the recount groups leads into them. */
import { sql, type SQL } from 'drizzle-orm';
import type { AnySQLiteColumn } from 'drizzle-orm/sqlite-core';

/** Points per bucket: fine enough to show band boundaries (multiples of 5 in practice), few rows. */
export const BUCKET = 5;

/** `BUCKET` written into a statement rather than bound (see `bucketSql`). */
export const bucketWidth = sql.raw(String(BUCKET));

/**
 * The lower bound of the bucket holding `score` (`floor(score / BUCKET) * BUCKET`), in SQL, as text:
 * SQLite has no floor() without its math extension. The width is written into the statement: D1
 * binds every JavaScript number as a REAL, and an integer times a REAL turns into "45.0".
 */
export const bucketSql = (score: AnySQLiteColumn): SQL =>
  sql`CAST((CAST(${score} / ${bucketWidth} AS INTEGER) - (${score} < 0 AND ${score} / ${bucketWidth} <> CAST(${score} / ${bucketWidth} AS INTEGER))) * ${bucketWidth} AS TEXT)`;
