/** @module Score buckets of the histogram: the same bounds in JavaScript and in SQL. */
import { sql, type SQL } from 'drizzle-orm';
import type { AnySQLiteColumn } from 'drizzle-orm/sqlite-core';

/** Points per bucket: fine enough to show band boundaries (multiples of 5 in practice), few rows. */
export const BUCKET = 5;

/** The lower bound of the bucket holding `score`. */
export const bucketOf = (score: number): number => Math.floor(score / BUCKET) * BUCKET;

/** `bucketOf` in SQL, as text (the counters' key). SQLite has no floor() without its math extension. */
export const bucketSql = (score: AnySQLiteColumn): SQL =>
  sql`CAST((CAST(${score} / ${BUCKET} AS INTEGER) - (${score} < 0 AND ${score} / ${BUCKET} <> CAST(${score} / ${BUCKET} AS INTEGER))) * ${BUCKET} AS TEXT)`;
