/**
 * @module Long jobs, one slice per queue message. A slice stops well inside a Worker's limits and,
 * when the job is not finished, sends the message again, so a recompute of any size completes
 * without a request or a cron run having to last.
 */
import { z } from 'zod';
import { runRecompute } from './recompute';

export const JobMessage = z.object({ kind: z.literal('recompute'), id: z.string().min(1).max(64) });
export type JobMessage = z.infer<typeof JobMessage>;

/** One slice: long enough to amortise start-up, short enough for any consumer limit. */
const SLICE_MS = 20_000;

export async function handleJobs(messages: readonly Message<unknown>[], env: { DB: D1Database; JOBS: Queue<JobMessage> }) {
  for (const message of messages) {
    const parsed = JobMessage.safeParse(message.body);
    if (!parsed.success) {
      console.error('dropping a malformed job message', message.body);
      message.ack();
      continue;
    }
    const job = await runRecompute(env.DB, parsed.data.id, Date.now() + SLICE_MS);
    // null: another run holds the job, or it was superseded; that run sends what comes next.
    if (job && job.status === 'running') await env.JOBS.send(parsed.data);
    message.ack();
  }
}
