/**
 * @module What this isolate (or a visitor's Durable Object, see `visitor-object`) last wrote of the
 * visitors and leads it served, so that their next events can skip the read: ingest then costs one
 * D1 round trip instead of two.
 *
 * A recalled state is a guess, never trusted: the write batch checks it against what D1 holds (see
 * `recallGuards`), and a guess gone stale — another isolate wrote the visitor, a recompute or sales
 * moved the lead, the event was sent before, a model was saved — fails the batch like any write
 * conflict, and the request is redone from a real read. A wrong guess thus costs a round trip, a
 * right one saves one; only what this isolate itself wrote is recalled, so a visitor's events
 * that keep coming to one isolate, as a visit's usually do, are the ones that gain.
 */
import { HISTORY_MAX, type AddedEvent, type StoredEvent } from '../db/lead-history';
import type { Condition } from '../db/statements';
import type { LeadRow } from '../leads/write';
import type { ScoringEvent } from '../scoring/types';
import { Recent } from '../lib/recent';

/** A visitor as its row holds what ingest reads of it. */
export interface RecalledVisitor {
  leadId: string | null;
  paceStart: number | null;
  paceCount: number;
  robotSince: number | null;
}

/** A lead as written: its row, the events its score came from, and its history as it stands. */
export interface RecalledLead {
  row: LeadRow;
  events: readonly ScoringEvent[];
  kept: readonly StoredEvent[];
  /** Events whose shape id was not known when written: their history entry is found by key. */
  added: readonly AddedEvent[];
}

/**
 * Bounds on what is kept, least recently used forgotten first. A recalled event costs about 200
 * bytes (its scoring view and its history entry: 198 bytes an event measured on Node's heap, for
 * 10,000 leads of 10 events), so the leads' events are bounded in all, about 20 MB of a Worker's
 * 128 MB, rather than lead by lead: one lead of thousands of events is kept as well as many of ten.
 */
const MAX_VISITORS = 20_000;
const MAX_LEADS = 5_000;
export const MAX_RECALLED_EVENTS = 100_000;
const MAX_SHAPES = 20_000;

const key = (siteId: string, id: string) => `${siteId}\u0000${id}`;

/** How much a `Recall` keeps: visitors, leads, their events in all, shape ids. */
export interface RecallBounds {
  visitors: number;
  leads: number;
  events: number;
  shapes: number;
}

const ISOLATE_BOUNDS: RecallBounds = { visitors: MAX_VISITORS, leads: MAX_LEADS, events: MAX_RECALLED_EVENTS, shapes: MAX_SHAPES };

/**
 * What one memory recalls: the isolate's own (`recall`), shared by every request it serves, or a
 * visitor's Durable Object's (see `visitor-object`), which every request of that visitor reaches.
 */
export class Recall {
  private readonly visitors: Recent<RecalledVisitor>;
  private readonly leads: Recent<RecalledLead>;
  /** Shape ids by site and key: a shape row never changes, and an erased one fails the write that names it. */
  private readonly shapes: Recent<number>;

  constructor(bounds: RecallBounds = ISOLATE_BOUNDS) {
    this.visitors = new Recent(bounds.visitors);
    this.leads = new Recent(bounds.leads, bounds.events, (lead) => lead.events.length);
    this.shapes = new Recent(bounds.shapes);
  }

  visitor(siteId: string, id: string): RecalledVisitor | undefined {
    return this.visitors.get(key(siteId, id));
  }
  lead(siteId: string, id: string): RecalledLead | undefined {
    return this.leads.get(key(siteId, id));
  }
  shapeId(siteId: string, shapeKey: string): number | undefined {
    return this.shapes.get(key(siteId, shapeKey));
  }
  rememberVisitor(siteId: string, id: string, visitor: RecalledVisitor): void {
    this.visitors.set(key(siteId, id), visitor);
  }
  /**
   * A lead whose write may have started a page of its history (its row past `HISTORY_MAX`) is
   * forgotten instead: the next request reads it, row and pages. A lead with pages already is kept,
   * its events whole, its row's count of pages as written.
   */
  rememberLead(siteId: string, lead: RecalledLead): void {
    if (lead.kept.length + lead.added.length > HISTORY_MAX) {
      this.leads.delete(key(siteId, lead.row.id));
    } else this.leads.set(key(siteId, lead.row.id), lead);
  }
  rememberShape(siteId: string, shapeKey: string, id: number): void {
    this.shapes.set(key(siteId, shapeKey), id);
  }
  /** After a guess that failed: these are read again next time. */
  forget(siteId: string, visitorIds: readonly string[], leadIds: readonly string[]): void {
    for (const id of visitorIds) this.visitors.delete(key(siteId, id));
    for (const id of leadIds) this.leads.delete(key(siteId, id));
  }
  /** Tests start from a memory that holds nothing. */
  clear(): void {
    this.visitors.clear();
    this.leads.clear();
    this.shapes.clear();
  }
}

/** The isolate's memory. */
export const recall = new Recall();

/**
 * What a write built on recalled state holds to: each visitor's row still as recalled (a row gone
 * or changed in any field ingest reads fails), and, when leads are scored, no model saved since
 * `modelVersion`. The leads are checked by their `rev` with every lead write (`leadWrites`), and an
 * event stored before fails its insert, which is not told to ignore it. Carried by the batch's
 * first insert of events, or as a statement of its own when there is none (see `ingest`).
 */
export function recallHeld(siteId: string, recalled: ReadonlyMap<string, RecalledVisitor>, modelVersion: number | null): Condition {
  const expected = [...recalled].map(([id, v]) => [id, v.leadId, v.paceStart, v.paceCount, v.robotSince]);
  const model = (site: string, version: string) =>
    modelVersion === null ? '' : ` AND NOT EXISTS (SELECT 1 FROM models WHERE site_id = ${site} AND version > ${version})`;
  const n = (first: number) => (k: number) => `?${first + k}`;
  if (expected.length === 1) {
    // A browser's one visitor, bound as it is: a scalar subquery reads its row alone, where a JSON
    // parameter's element is a row read more in D1's count.
    return {
      key: `recall-one:${modelVersion === null}`,
      sql: (first) => {
        const p = n(first);
        return `coalesce((SELECT lead_id IS ${p(1)} AND pace_start IS ${p(2)} AND pace_count IS ${p(3)} AND robot_since IS ${p(4)}
          FROM visitors WHERE site_id = ${p(5)} AND id = ${p(0)}), 0)${model(p(5), p(6))}`;
      },
      params: [...expected[0]!, siteId, ...(modelVersion === null ? [] : [modelVersion])],
    };
  }
  return {
    key: `recall-many:${modelVersion === null}`,
    sql: (first) => {
      const p = n(first);
      return `NOT EXISTS (SELECT 1 FROM json_each(${p(0)}) AS j LEFT JOIN visitors AS v ON v.site_id = ${p(1)} AND v.id = j.value ->> 0
        WHERE v.id IS NULL OR v.lead_id IS NOT j.value ->> 1 OR v.pace_start IS NOT j.value ->> 2
          OR v.pace_count IS NOT j.value ->> 3 OR v.robot_since IS NOT j.value ->> 4)${model(p(1), p(2))}`;
    },
    params: modelVersion === null ? [JSON.stringify(expected), siteId] : [JSON.stringify(expected), siteId, modelVersion],
  };
}

/** Whether the worker's settings let ingest write from recalled state (`INGEST_RECALL=off`: never). */
export const recallsIn = (env: { INGEST_RECALL?: string }) => env.INGEST_RECALL !== 'off';

/** The visitors of `ids` that `memory` recalls, or null when it does not recall them all. */
export function recalledVisitors(memory: Recall, siteId: string, ids: readonly string[]): Map<string, RecalledVisitor> | null {
  const out = new Map<string, RecalledVisitor>();
  for (const id of ids) {
    const v = memory.visitor(siteId, id);
    if (!v) return null;
    out.set(id, v);
  }
  return out;
}
