/** @module Secrets the worker keeps in D1 for itself: made once, then read by every isolate. */
import { eq } from 'drizzle-orm';
import type { Database } from './client';
import { workerSecrets } from './schema';

/**
 * The secret stored under `name`, storing `candidate` first when there is none. The insert and the
 * read go in one batch, and the insert yields to a row already there: isolates that race on the
 * first request all come away with the one value that won.
 */
export async function storedSecret(db: Database, name: string, candidate: string): Promise<string> {
  const [, rows] = await db.batch([
    db.insert(workerSecrets).values({ name, value: candidate }).onConflictDoNothing(),
    db.select({ value: workerSecrets.value }).from(workerSecrets).where(eq(workerSecrets.name, name)),
  ]);
  const value = rows[0]?.value;
  if (value === undefined) throw new Error(`worker secret ${name} was neither found nor stored`);
  return value;
}
