/**
 * @module A site's leads in id order with all their events, a chunk at a time: what recomputes and
 * previews walk. A cursor (the last lead id) is all it takes to resume.
 */
import type { Database } from '../db/client';
import { eventsOfRows, type HistoryRow } from '../db/lead-events';
import type { LeadRow } from '../leads/write';
import type { EventShape } from '../scoring/event-shapes';

/**
 * Leads per read: with their events they must fit comfortably in a Worker's memory. Each read costs
 * a round trip and a query plan, so fewer, larger reads: a history's (time, shape) pairs are about
 * 18 bytes each.
 */
export const READ_LEADS = 5000;

export interface ChunkOptions {
  limit: number;
  eventBudget: number;
}

/** A read stops adding leads once it holds this many events, so heavy leads make smaller reads. */
export const EVENT_BUDGET = 100_000;

/**
 * Events a job holds at once at most, a recompute's chunk or a decay run: it keeps every lead's
 * packed history (some 18 bytes an event) until the leads are scored and written, and 25,000 leads
 * of a few hundred events each would take most of a Worker's 128 MB. The bench's chunks (25,000
 * leads of 10 events) are far below it; a site of heavy leads gets chunks of fewer leads.
 */
export const MAX_HELD_EVENTS = 1_000_000;

/** A site whose events come in more shapes than this has them read again chunk by chunk. */
const MAX_KEPT_SHAPES = 100_000;

/** A lead as a chunk brings it: what rescoring and writing it back need of its row. */
export type ChunkLead = Pick<
  LeadRow,
  'id' | 'siteId' | 'rev' | 'score' | 'band' | 'nextChangeAt' | 'stage' | 'excludedReason' | 'recycledAt' | 'eventCount' | 'lastEventAt' | 'profile' | 'historyPages'
> & {
  /** For the write that follows: it finds the row by rowid (see `leads/write`). */
  rowid: number;
};

// Not the site (the caller's) nor the e-mail (which a preview reads for its sample alone): some 38
// bytes a lead of the bench's (an e-mail of 28 characters, a site id of 4, quoted), 3.8 MB of a
// recompute of 100,000 leads, not sent nor parsed.
const COLUMNS = 'id, rev, score, band, next_change_at, stage, excluded_reason, recycled_at, event_count, last_event_at, profile, history, history_pages';

/**
 * One pass over the leads' rows: the next `?3` in id order with the events before each summed by a
 * window (SQLite streams it in the index's order and stops at the limit), those within the budget
 * `?4` kept. D1 counts a row read at each level a row goes through: 3 a lead, where picking the ids
 * first and then reading the rows by id counted 5. The rows come in id order, as the subquery
 * walked them: an ORDER BY outside would have SQLite's sorter copy every row and its history once
 * more. Written out rather than built by drizzle, whose mapping of a result row walked every column
 * of it through its entity checks: some 300 ms of a recompute of 100,000 leads in a profile.
 */
const CHUNK_SQL = `SELECT rid, ${COLUMNS}
  FROM (SELECT rowid AS rid, ${COLUMNS}, sum(event_count) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) - event_count AS before
    FROM leads WHERE site_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3) next
  WHERE before < ?4`;

/** A row as `CHUNK_SQL` returns it, column for column; the profile still its JSON text. */
type ChunkRow = [
  number,
  ...[LeadRow['id'], LeadRow['rev'], LeadRow['score'], LeadRow['band'], LeadRow['nextChangeAt']],
  ...[LeadRow['stage'], LeadRow['excludedReason'], LeadRow['recycledAt'], LeadRow['eventCount'], LeadRow['lastEventAt'], string, LeadRow['history'], LeadRow['historyPages']],
];

/**
 * The next leads after `cursor` in id order, as many as `limit` and the event budget allow, with
 * their events: each lead's packed history (see `db/lead-history`) comes with its row, so a chunk
 * of thousands of leads and tens of thousands of events is read as thousands of rows, in one round
 * trip; the few leads whose history has pages have those read apart. Shapes not yet
 * in `shapes` are then read, once per run rather than once per event.
 */
export async function readChunk(
  db: Database,
  siteId: string,
  cursor: string,
  options: Partial<ChunkOptions> = {},
  shapes: Map<number, EventShape> = new Map(),
) {
  const { limit = READ_LEADS, eventBudget = EVENT_BUDGET } = options;
  const rows = await db.$client.prepare(CHUNK_SQL).bind(siteId, cursor, limit, eventBudget).raw<ChunkRow>();
  const chunk: ChunkLead[] = [];
  const histories: HistoryRow[] = [];
  for (const [rowid, id, rev, score, band, nextChangeAt, stage, excludedReason, recycledAt, eventCount, lastEventAt, profile, history, historyPages] of rows) {
    chunk.push({ rowid, id, siteId, rev, score, band, nextChangeAt, stage, excludedReason, recycledAt, eventCount, lastEventAt, profile: JSON.parse(profile), historyPages });
    histories.push({ id, history, historyPages });
  }
  if (shapes.size > MAX_KEPT_SHAPES) shapes.clear();
  const eventsOf = await eventsOfRows(db, histories, shapes);
  return { chunk, eventsOf };
}
