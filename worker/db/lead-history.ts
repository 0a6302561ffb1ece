/**
 * @module A lead's events, packed into its own row: `leads.history` holds `ts:shape` pairs, comma
 * separated, in no particular order (the engine orders by time). A live event then reads one row
 * for its lead's whole past instead of one index entry per event, so what it costs stays the same
 * whatever the history, and a recompute reads a lead as one row.
 *
 * The events table stays the log: it is what exports, erasure and the lead page read, and what a
 * `NULL` history sends readers back to — a lead with more than `HISTORY_MAX` events, whose packed
 * list would grow towards D1's limit on a value.
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
 * What a writer stores as a lead's history: the stored events it keeps (null: too many, or not
 * known event by event — the history becomes NULL) and the new ones it adds.
 */
export interface HistoryWrite {
  kept: readonly StoredEvent[] | null;
  added: readonly AddedEvent[];
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
  if (write.kept === null || write.added.length === 0) return write;
  const kept = [...write.kept];
  const added: AddedEvent[] = [];
  for (const a of write.added) {
    const shapeId = idOf(a[1]);
    if (shapeId === undefined) added.push(a);
    else kept.push({ ts: a[0], shapeId });
  }
  return { kept, added };
}

/**
 * The history a write stores, as JSON for a statement: [packed kept events, added events], or
 * [null] when it must be NULL.
 */
export function historyJson(write: HistoryWrite): [string, readonly AddedEvent[]] | [null] {
  if (write.kept === null || write.kept.length + write.added.length > HISTORY_MAX) return [null];
  return [packHistory(write.kept), write.added];
}

/**
 * The new history from a JSON value made by `historyJson` (`spec`: an SQL expression of it; `siteId`:
 * one of the lead's site): the kept events, then the added ones with the ids their shapes have by
 * now — looked up by key in the same transaction, as the events' own rows do. CROSS JOIN keeps the
 * added events as the outer loop: left to itself, SQLite walked the site's shapes and probed the
 * added events for each. SQL text, for statements that keep theirs (see `db/statements`).
 */
export const historySql = (spec: string, siteId: string): string =>
  `CASE WHEN json_extract(${spec}, '$[0]') IS NULL THEN NULL ELSE trim(json_extract(${spec}, '$[0]') || ',' || coalesce((
    SELECT group_concat((a.value ->> 0) || ':' || "event_shapes"."id", ',')
    FROM json_each(json_extract(${spec}, '$[1]')) AS a
    CROSS JOIN "event_shapes" ON "event_shapes"."site_id" = ${siteId} AND "event_shapes"."key" = a.value ->> 1), ''), ',') END`;
