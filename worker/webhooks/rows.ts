/** @module What D1 bills a batch for: the rows its statements wrote (index entries included). */

/** Sums `meta.rows_written` over the results of a drizzle D1 batch; row arrays carry none. */
export const rowsWrittenBy = (results: readonly unknown[]): number =>
  results.reduce<number>((n, r) => n + ((r as { meta?: { rows_written?: number } } | null)?.meta?.rows_written ?? 0), 0);
