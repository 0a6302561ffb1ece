/**
 * @module What a candidate model would change, without saving anything: every lead of the site
 * scored now by the current model and by the candidate, read in chunks of leads.
 */
import { inList, type Database } from '../db/client';
import { leads } from '../db/schema';
import type { EventShape } from '../scoring/event-shapes';
import { EXCLUDED, type Model, type Stage } from '../scoring/model';
import { scoreLead } from '../scoring/score';
import { readChunk, type ChunkOptions } from './lead-chunks';

/** Where a lead stands: its band, or `excluded`. */
const segmentOf = (s: { band: string | null; exclusion: unknown }) => (s.exclusion ? EXCLUDED : s.band!);

export interface PreviewMove {
  id: string;
  email: string;
  from: string;
  to: string;
  scoreBefore: number;
  scoreAfter: number;
}

export async function previewModel(
  db: Database,
  siteId: string,
  current: Model,
  candidate: Model,
  sampleSize: number,
  now: number,
  /** How many leads a read takes (tests read a few at a time to walk several reads). */
  reading: Partial<ChunkOptions> = {},
) {
  const before: Record<string, number> = {};
  const after: Record<string, number> = {};
  for (const b of current.bands) before[b.name] = 0;
  for (const b of candidate.bands) after[b.name] = 0;
  before.excluded = after.excluded = 0;
  const flows: Record<string, number> = {};
  const sample: Omit<PreviewMove, 'email'>[] = [];
  let total = 0;
  let moved = 0;
  const shapes = new Map<number, EventShape>();
  for (let cursor = ''; ; ) {
    const { chunk, eventsOf } = await readChunk(db, siteId, cursor, reading, shapes);
    if (chunk.length === 0) break;
    cursor = chunk[chunk.length - 1]!.id;
    for (const lead of chunk) {
      const evs = eventsOf(lead.id);
      const a = scoreLead(current, evs, lead.profile, now, lead.stage as Stage, lead.recycledAt);
      const b = scoreLead(candidate, evs, lead.profile, now, lead.stage as Stage, lead.recycledAt);
      const from = segmentOf(a);
      const to = segmentOf(b);
      total++;
      before[from] = (before[from] ?? 0) + 1;
      after[to] = (after[to] ?? 0) + 1;
      if (from !== to) {
        moved++;
        flows[`${from}→${to}`] = (flows[`${from}→${to}`] ?? 0) + 1;
        if (sample.length < sampleSize) {
          sample.push({ id: lead.id, from, to, scoreBefore: a.total, scoreAfter: b.total });
        }
      }
    }
  }
  // The sample's e-mails, read for it alone: the chunks carry none. A lead erased since is left out.
  const emails = sample.length
    ? new Map((await db.select({ id: leads.id, email: leads.email }).from(leads).where(inList(leads.id, sample.map((m) => m.id)))).map((r) => [r.id, r.email]))
    : new Map<string, string>();
  return {
    leads: total,
    before,
    after,
    moved,
    moves: Object.entries(flows).map(([k, n]) => {
      const [from, to] = k.split('→');
      return { from, to, count: n };
    }),
    sample: sample.flatMap((move) => (emails.has(move.id) ? [{ ...move, email: emails.get(move.id)! }] : [])),
  };
}
