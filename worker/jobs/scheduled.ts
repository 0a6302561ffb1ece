/**
 * @module The cron trigger: resume recomputes nobody is working on, apply decay that is due, keep
 * the day's segment counts, then deliver the webhooks that changes (and retries coming due) call for.
 */
import { database } from '../db/client';
import { runDecay } from './decay';
import { snapshotSegments } from '../segments/snapshot';
import { dispatchWebhooks } from '../webhooks/dispatch';
import { orphanedRecomputes, runRecompute } from './recompute';

/** A cron run must end well before the next one starts. */
const RUN_MS = 45_000;

export async function runScheduled(d1: D1Database, scheduledTime: number): Promise<void> {
  const deadline = Date.now() + RUN_MS;
  for (const { id } of await orphanedRecomputes(database(d1), Date.now())) {
    await runRecompute(d1, id, deadline);
  }
  await runDecay(d1, scheduledTime);
  await snapshotSegments(database(d1), scheduledTime);
  await dispatchWebhooks(d1, { deadline });
}
