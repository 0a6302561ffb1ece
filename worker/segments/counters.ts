/**
 * @module The segment counters' share of a lead write: per band, the leads that came in minus those
 * that left, added to the site's one counters row (`segment_histograms`) in a statement of the
 * writer's own batch. Only a band change writes it: the score histogram is recounted when looked at
 * (see `histogram`), so that a lead's score crossing a bucket costs no row.
 */
import { textFor, type Statement } from '../db/statements';

/** Where a lead counts: its band, null when excluded (counted under ''). */
export interface Place {
  band: string | null;
}

export interface Move {
  siteId: string;
  /** null for a new lead. */
  before: Place | null;
  /** null for an erased lead. */
  after: Place | null;
}

/**
 * The JSON path of a place's counter. Band names are ids (lower-case letters, digits, `-`, `_`), so
 * none can close the quoted label.
 */
const pathOf = ({ band }: Place): string => `$.band."${band ?? ''}"`;

/** The statements adding the moves up, one per site that has counters to change, or none. */
export function counterWrites(moves: readonly Move[]): Statement[] {
  // Keyed by site and path: a recompute chunk adds up tens of thousands of moves into a few paths.
  const bySite = new Map<string, Map<string, number>>();
  const add = (siteId: string, place: Place, n: number) => {
    let delta = bySite.get(siteId);
    if (!delta) bySite.set(siteId, (delta = new Map()));
    const path = pathOf(place);
    delta.set(path, (delta.get(path) ?? 0) + n);
  };
  const stays = ({ before: b, after: a }: Move) => b && a && b.band === a.band;
  for (const m of moves) {
    if (stays(m)) continue;
    if (m.before) add(m.siteId, m.before, -1);
    if (m.after) add(m.siteId, m.after, 1);
  }
  const out: Statement[] = [];
  for (const [siteId, delta] of bySite) {
    const changes = [...delta].filter(([, n]) => n !== 0);
    // Each counter's path and change bound as they are (a JSON parameter's every element is a row
    // read in D1's count), under D1's 100 parameters a statement.
    for (let i = 0; i < changes.length; i += PER_STATEMENT) {
      const part = changes.slice(i, i + PER_STATEMENT);
      out.push({ sql: textFor(`counters:${part.length}`, () => addUp(part.length)), params: [siteId, ...part.flat()] });
    }
  }
  return out;
}

/** Counters a statement changes at most: the site, then a path and a change each. */
const PER_STATEMENT = 49;

const EMPTY = `'{"band":{}}'`;

/**
 * The site's row with `n` counters changed: `?1` the site, then each counter's path and change. A
 * change is cast to an integer: D1 binds every JavaScript number as a REAL, which would store 3 as
 * `3.0`. Each path comes once, so every change adds to the count as it was before the statement.
 */
function addUp(n: number): string {
  const changed = (counts: string) => {
    const pairs = Array.from({ length: n }, (_, i) => `?${2 * i + 2}, coalesce(${counts} ->> ?${2 * i + 2}, 0) + CAST(?${2 * i + 3} AS INTEGER)`);
    return `json_set(${counts}, ${pairs.join(', ')})`;
  };
  return `INSERT INTO segment_histograms (site_id, counts) VALUES (?1, ${changed(EMPTY)})
  ON CONFLICT (site_id) DO UPDATE SET counts = ${changed('segment_histograms.counts')}`;
}
