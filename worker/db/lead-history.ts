/**
 * @module A lead's events, packed into its own row: `leads.history` holds `ts:shape` pairs, comma
 * separated, in no particular order (the engine orders by time). A live event then reads one row
 * for its lead's whole past instead of one index entry per event, so what it costs stays the same
 * whatever the history, and a recompute reads a lead as one row.
 *
 * Past `HISTORY_MAX` pairs, a write moves the row's pairs into a page of `lead_history_pages` and
 * starts the row again, so that the row rewritten at every event stays small and no value grows
 * towards D1's limit: a lead of 40,000 events is read as its row and 7 or 8 pages. The events table
 * stays the log: it is what exports, erasure and the lead page read.
 */
import type { EventShape } from '../scoring/event-shapes';
import type { ScoringEvent } from '../scoring/types';

/** About 18 bytes an event: 5,000 events are some 90 KB, far inside D1's 2 MB limit on a value. */
export const HISTORY_MAX = 5000;

export interface StoredEvent {
  ts: number;
  shapeId: number;
}

/** New events of a write, whose shape is known by key: its id may be assigned in the same batch. */
export type AddedEvent = readonly [ts: number, shapeKey: string];

/**
 * What a writer stores as a lead's history: the stored events its row keeps and the new ones it
 * adds, and how many of the lead's stored pages stay as they are — all of them, or none when
 * `kept` is the whole history again (a robot's events taken back).
 */
export interface HistoryWrite {
  kept: readonly StoredEvent[];
  added: readonly AddedEvent[];
  pages: number;
}

/** A history as a writer lays it out: its row's part, for `historySql`, and the pages it adds after the kept ones. */
export interface HistoryLayout {
  /** [packed kept events, added events]: see `historySql`. */
  row: [string, readonly AddedEvent[]];
  /** Packed pages to store, numbered from the write's `pages` on. */
  newPages: string[];
  /** The lead's page count once written. */
  pages: number;
}

/**
 * Where a write's events go: all in the row while they fit; past that, the kept ones in full pages,
 * and what is left of them in the row with the added ones. Every page then holds `HISTORY_MAX`
 * pairs (but the last of a lead migration 0017 paged), so a lead of n events reads n / 5,000 pages,
 * and the row holds at most `HISTORY_MAX` pairs and one batch's. Added events are looked up by
 * shape key in SQL, which is why they always stay in the row.
 */
export function historyLayout({ kept, added, pages }: HistoryWrite): HistoryLayout {
  if (kept.length + added.length <= HISTORY_MAX) return { row: [packHistory(kept), added], newPages: [], pages };
  const paged = kept.length - (kept.length % HISTORY_MAX);
  const newPages: string[] = [];
  for (let i = 0; i < paged; i += HISTORY_MAX) newPages.push(packHistory(kept.slice(i, i + HISTORY_MAX)));
  return { row: [packHistory(kept.slice(paged)), added], newPages, pages: pages + newPages.length };
}

export function parseHistory(text: string): StoredEvent[] {
  const out: StoredEvent[] = [];
  if (text === '') return out;
  // Digit by digit rather than split and sliced: a recompute parses a million pairs, and the
  // strings those make were most of the time taken. Times are whole ms, below 2^53.
  let ts = 0;
  let n = 0;
  let digits = 0;
  let negative = false;
  let colon = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 44;
    if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      digits++;
    } else if (c === 45 && !colon && digits === 0 && !negative) negative = true;
    else if (c === 58 && !colon && digits > 0 && digits < 16) {
      ts = negative ? -n : n;
      n = digits = 0;
      colon = true;
    } else if (c === 44 && colon && digits > 0 && digits < 16) {
      out.push({ ts, shapeId: n });
      n = digits = 0;
      negative = colon = false;
    } else return legacyParse(text);
  }
  return out;
}

/**
 * The shape ids a packed history names, added to `into`, without making its events: what a reader
 * must have read before it makes them. A history `parseHistory` reads the slow way is read so here too.
 */
export function shapeIdsOf(text: string, into: Set<number>): void {
  if (text === '') return;
  let n = 0;
  let digits = 0;
  let shape = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 44;
    if (shape && c >= 48 && c <= 57 && digits < 15) {
      n = n * 10 + (c - 48);
      digits++;
    } else if (c === 58 && !shape) {
      shape = true;
      n = digits = 0;
    } else if (c === 44 && shape && digits > 0) {
      into.add(n);
      shape = false;
    } else if (shape || c === 44) {
      for (const e of parseHistory(text)) into.add(e.shapeId);
      return;
    }
  }
}

/** Anything `packHistory` never writes (a fraction, an empty pair…): read as `Number` reads it. */
function legacyParse(text: string): StoredEvent[] {
  return text.split(',').map((pair) => {
    const at = pair.indexOf(':');
    return { ts: Number(pair.slice(0, at)), shapeId: Number(pair.slice(at + 1)) };
  });
}

/**
 * A history's events as the engine sees them, each carrying its stored shape. Their ids only need
 * to differ from each other and from any event a client sends (ingest scores both together): a lone
 * surrogate is refused in every request body. A shape missing from `shapes` can only be one an
 * erasure deleted since the lead was read; its event is left out, and the write that follows fails
 * on the lead's rev.
 */
export function historyEvents(history: readonly StoredEvent[], shapes: ReadonlyMap<number, EventShape>): ScoringEvent[] {
  const out: ScoringEvent[] = [];
  for (let i = 0; i < history.length; i++) {
    const { ts, shapeId } = history[i]!;
    const shape = shapes.get(shapeId);
    // Spelled out rather than spread: a recompute builds a million of these.
    if (shape) out.push({ id: surrogateId(i), ts, type: shape.type, url: shape.url, contentType: shape.contentType, props: shape.props, shape });
  }
  return out;
}

const surrogateIds: string[] = [];
const surrogateId = (i: number) => (surrogateIds[i] ??= `\ud800${i}`);

export const packHistory = (events: readonly StoredEvent[]): string => events.map((e) => `${e.ts}:${e.shapeId}`).join(',');

/**
 * The history with the added events whose shape ids are known (`idOf` a key) moved among the kept
 * ones: a history with nothing left to look up is stored as it is packed, its statement binding it
 * whole (see `leads/write`), and recalled without keys.
 */
export function withKnownShapes(write: HistoryWrite, idOf: (key: string) => number | undefined): HistoryWrite {
  if (write.added.length === 0) return write;
  const kept = [...write.kept];
  const added: AddedEvent[] = [];
  for (const a of write.added) {
    const shapeId = idOf(a[1]);
    if (shapeId === undefined) added.push(a);
    else kept.push({ ts: a[0], shapeId });
  }
  return { kept, added, pages: write.pages };
}

/**
 * The new history from a JSON value shaped as `HistoryLayout.row` (`spec`: an SQL expression of it;
 * `siteId`: one of the lead's site): the kept events, then the added ones with the ids their shapes
 * have by now — looked up by key in the same transaction, as the events' own rows do. CROSS JOIN
 * keeps the added events as the outer loop: left to itself, SQLite walked the site's shapes and
 * probed the added events for each. SQL text, for statements that keep theirs (see `db/statements`).
 */
export const historySql = (spec: string, siteId: string): string =>
  `trim(json_extract(${spec}, '$[0]') || ',' || coalesce((
    SELECT group_concat((a.value ->> 0) || ':' || "event_shapes"."id", ',')
    FROM json_each(json_extract(${spec}, '$[1]')) AS a
    CROSS JOIN "event_shapes" ON "event_shapes"."site_id" = ${siteId} AND "event_shapes"."key" = a.value ->> 1), ''), ',')`;
