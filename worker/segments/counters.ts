/**
 * @module The segment counters' share of a lead write: per band and per score bucket, the leads that
 * came in minus those that left, added in one statement of the writer's own batch.
 */
import { placeholders, textFor, type Statement } from '../db/statements';
import { bucketOf } from './buckets';

/** Where a lead counts: its band ('' when excluded) and, when in a band, its score's bucket. */
export interface Place {
  band: string | null;
  score: number;
}

export interface Move {
  siteId: string;
  /** null for a new lead. */
  before: Place | null;
  /** null for an erased lead. */
  after: Place | null;
}

const keysOf = ({ band, score }: Place): [string, string][] =>
  band === null ? [['band', '']] : [['band', band], ['score', String(bucketOf(score))]];

/** The statement adding the moves up, or none when nothing changes place. */
export function counterWrites(moves: readonly Move[]): Statement[] {
  // Keyed by a joined string rather than JSON: a recompute chunk adds up tens of thousands of moves.
  const delta = new Map<string, { row: [string, string, string]; n: number }>();
  const add = (siteId: string, place: Place, n: number) => {
    for (const [kind, key] of keysOf(place)) {
      const k = `${siteId}\u0000${kind}\u0000${key}`;
      const d = delta.get(k);
      if (d) d.n += n;
      else delta.set(k, { row: [siteId, kind, key], n });
    }
  };
  const stays = ({ before: b, after: a }: Move) => b && a && b.band === a.band && (b.band === null || bucketOf(b.score) === bucketOf(a.score));
  for (const m of moves) {
    if (stays(m)) continue;
    if (m.before) add(m.siteId, m.before, -1);
    if (m.after) add(m.siteId, m.after, 1);
  }
  const rows = [...delta.values()].filter(({ n }) => n !== 0).map(({ row, n }) => [...row, n]);
  if (rows.length === 0) return [];
  // A live event's few rows are bound as they are: from a JSON parameter, D1 counts a row read
  // for each of its elements too.
  if (rows.length <= FEW) return [{ sql: textFor(`counters:${rows.length}`, () => addUp(`VALUES ${placeholders(rows.length, '(?, ?, ?, ?)')}`)), params: rows.flat() }];
  return [{ sql: ADD_UP_JSON, params: [JSON.stringify(rows)] }];
}

/** Rows bound one value a parameter, under D1's 100 parameters a statement. */
const FEW = 25;

const addUp = (rows: string) => `INSERT INTO segment_counts (site_id, kind, key, count) ${rows}
  ON CONFLICT (site_id, kind, key) DO UPDATE SET count = segment_counts.count + excluded.count`;

// `WHERE true`: without it SQLite's parser takes the upsert's ON for a join constraint.
const ADD_UP_JSON = addUp(`SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3 FROM json_each(?) AS j WHERE true`);
