/**
 * @module Validated events → identity → scores → one D1 batch.
 *
 * Each attempt reads what it needs in one batch of selects, decides everything in memory with the
 * pure engine, and writes in one batch (one transaction): events, visitors, leads, transitions land
 * together or not at all. A lead changed by a concurrent request between the read and the write
 * fails the write (see `writeConflicts`), and the attempt is redone from a fresh read.
 *
 * The first attempt skips the read when the isolate recalls what it needs, from its own last
 * writes (`recall`), or when a browser's visitor it does not know can be guessed anonymous
 * (`anonymous-guess`): one round trip instead of two, the guess checked by the write itself.
 */
import { and, eq, getTableColumns, isNull, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { allOf, failUnless, fromDrizzle, insertedRows, insertedRowsOrFail, placeholders, runBatch, textFor, type Condition, type Statement } from '../db/statements';
import { chunksFor, database, inList, type Database } from '../db/client';
import { historyEvents, parseHistory, withKnownShapes, type AddedEvent, type StoredEvent } from '../db/lead-history';
import { loggedEventColumns, loggedEvents, shapesOfHistories, storedHistories } from '../db/lead-events';
import { shapeCache } from '../db/shape-cache';
import { modelVersion } from '../db/models';
import { eventShapes, events, leads, models, visitors, writeConflicts } from '../db/schema';
import type { SiteContext } from '../env';
import { ApiError } from '../lib/errors';
import { newLeadId } from '../lib/ids';
import { groupBy } from '../lib/group';
import { shapeKeyOf, shapeOf, type EventShape } from '../scoring/event-shapes';
import type { ScoringEvent } from '../scoring/types';
import { rescore, type Rescored } from '../leads/rescore';
import { storedState } from '../leads/transitions';
import { isWriteConflict, leadWrites, type LeadRow } from '../leads/write';
import { identityOf, profileSource, revealedProfile } from './identity';
import { advancePace, crowded, type Pace } from './pace';
import { mergeProfile, type StoredProfile } from './profile-fields';
import { anonymous, guessableVisitor, guessedState, guessHeld, guessRead } from './anonymous-guess';
import { recall, recallHeld, recalledVisitors, type Recall, type RecalledVisitor } from './recall';
import { countRobot } from './robot-counts';
import { visitorWrites, type VisitorWrite } from './visitor-writes';
import type { WireEvent } from './wire';

export interface IngestResult {
  accepted: string[];
  duplicates: string[];
  /** Events of visitors whose pace gave them away as robots: counted apart, not stored. */
  robots: string[];
  /** Some lead changed band, stage or exclusion: the webhooks have something to deliver. */
  changed: boolean;
}

/** An event of this request: its row but for the shape id, which the write looks up by key. */
type NewEvent = Omit<typeof events.$inferInsert, 'shapeId'> & { id: string; ts: number; shape: EventShape; shapeKey: string };

interface WorkingLead {
  row: LeadRow;
  isNew: boolean;
  /** What the engine scores: the stored events and this request's. */
  events: ScoringEvent[];
  /** The stored events the lead's row keeps, as its history holds them (its pages' apart). */
  kept: StoredEvent[];
  /** Its history's stored pages that stay as they are (see `HistoryWrite`). */
  pages: number;
  /** This request's events for the lead, added to its history by their shape's key. */
  added: AddedEvent[];
  /** Its history changes: events added, attributed or taken back. */
  historyChanged: boolean;
  /** An identify merged into its profile: written only then (see `leads/write`). */
  profileChanged: boolean;
  touched: boolean;
}

/** Attempts before giving up on a lead that other requests keep changing; the client retries a 503. */
const MAX_ATTEMPTS = 12;

export interface IngestOptions {
  /**
   * Hears of a model saved since `site` was read (the read batch checks): callers that keep sites a
   * while (`db/site-cache.ts`) put it in their copy.
   */
  onNewerModel?: (site: SiteContext) => void;
  /** False: read before writing even what the isolate recalls (`INGEST_RECALL=off`). */
  recall?: boolean;
  /** What is recalled and remembered: the isolate's memory unless given one of its own (a visitor's Durable Object). */
  memory?: Recall;
}

export async function ingest(
  d1: D1Database,
  site: SiteContext,
  batch: WireEvent[],
  now: number,
  { onNewerModel, recall: recalls = true, memory = recall }: IngestOptions = {},
): Promise<IngestResult> {
  const db = database(d1);
  const facts = factsOf(batch);
  let recalling = recalls;
  let guessing = recalls;
  /** The guessed batch read the visitor and its lead just now: their rows need no guard of their own. */
  let justRead = false;
  for (let attempt = 1; ; attempt++) {
    const reading = (recalling && recalledReading(memory, site, batch, facts, now, justRead)) || null;
    justRead = false;
    const guessed = !reading && guessing;
    try {
      if (guessed) {
        guessing = false;
        const written = await guessAnonymous(memory, db, site, batch, facts, now);
        // Not guessable, or the guess did not hold: what the batch read of the visitor and its lead
        // is recalled now, and the next attempt writes from it (or reads, if it cannot).
        if (written === 'read' || written === false) {
          justRead = written === 'read';
          continue;
        }
        if (written) return written;
      }
      return await attemptIngest(memory, db, reading ?? (await readStored(db, site, batch, facts, now, onNewerModel)), batch, facts, now);
    } catch (err) {
      if (!isWriteConflict(err)) throw err;
      // An event of the guessed batch was stored before: read.
      if (guessed) continue;
      if (reading) {
        // The guess was stale: what it was made of is read again, now and next time.
        memory.forget(site.id, [...reading.recalled!.keys()], reading.leads.map((l) => l.row.id));
        recalling = guessing = false;
        continue;
      }
      if (attempt >= MAX_ATTEMPTS) {
        throw new ApiError(503, 'write_conflict', 'the same leads are being written by other requests; send again');
      }
      // Jitter, so that requests that collided do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4 * attempt));
    }
  }
}

const scoringView = (e: NewEvent): ScoringEvent => ({ id: e.id, ts: e.ts, ...e.shape });


/** What a write is computed from: read from D1 in one batch, or recalled (see `recall`). */
interface Reading {
  site: SiteContext;
  /** Events of the batch already stored. */
  known: Set<string>;
  visitorRows: VisitorRow[];
  /** Each visitor's pace after the batch's new page views. */
  paces: Map<string, VisitorPace>;
  /** The leads the batch names, as stored. */
  leads: WorkingLead[];
  /** The stored anonymous events of the visitors the batch identifies. */
  anonEvents: (ScoringEvent & StoredEvent & { visitorId: string | null })[];
  knownShapes: { id: number; key: string }[];
  /** The visitors as recalled, which the write must check; null when read. */
  recalled: ReadonlyMap<string, RecalledVisitor> | null;
  /**
   * Recalled from what this request's guessed batch read a moment ago, under the site's model: the
   * write is guarded as after a read (`visitorGuard`), not as on memory of unknown age.
   */
  justRead: boolean;
}

/**
 * What ingest reads of a visitor, beside its lead's columns: `id` under a name of its own, as a batch
 * maps a row by its column names and the lead's `id` would take its place.
 */
const visitorColumns = {
  id: sql<string>`${visitors.id}`.as('visitor_id'),
  leadId: visitors.leadId,
  paceStart: visitors.paceStart,
  paceCount: visitors.paceCount,
  robotSince: visitors.robotSince,
};
type VisitorRow = { id: string } & RecalledVisitor;

/** What each event of the batch says, worked out once for every attempt: whom it identifies, its shape. */
interface BatchFacts {
  identities: ReturnType<typeof identityOf>[];
  shapes: EventShape[];
  shapeKeys: string[];
}

function factsOf(batch: WireEvent[]): BatchFacts {
  const shapes = batch.map(shapeOfWire);
  return { identities: batch.map(identityOf), shapes, shapeKeys: shapes.map(shapeKeyOf) };
}

const visitorIdsOf = (batch: WireEvent[]) => [...new Set(batch.flatMap((e) => (e.visitor ? [e.visitor] : [])))];

async function readStored(
  db: Database,
  site: SiteContext,
  batch: WireEvent[],
  { identities, shapeKeys }: BatchFacts,
  now: number,
  onNewerModel?: (site: SiteContext) => void,
): Promise<Reading> {
  const ids = batch.map((e) => e.id);
  const visitorIds = visitorIdsOf(batch);
  const emails = [...new Set(identities.flatMap((i) => (i ? [i.email] : [])))];
  const identifying = [...new Set(batch.flatMap((e, i) => (identities[i] && e.visitor ? [e.visitor] : [])))];

  // The visitors with their leads in one statement, each row read once (a visitor's, its lead's),
  // and the leads the batch names by e-mail by their (site, e-mail) key: together the leads in play.
  // Written `email IN … OR id IN …`, SQLite walked every lead of the site and filtered.
  const visitorsWithLeads = db
    .select({ visitor: visitorColumns, lead: getTableColumns(leads) })
    .from(visitors)
    .leftJoin(leads, eq(leads.id, visitors.leadId))
    .where(visitorIds.length ? and(eq(visitors.siteId, site.id), inList(visitors.id, visitorIds)) : sql`0`);
  const namedLeads = () => db.select().from(leads).where(and(eq(leads.siteId, site.id), inList(leads.email, emails)));
  // The anonymous past of the visitors an identify names, unless a lead has it already: a
  // visitor's events from before it identified stay anonymous in the log (see `db/lead-events`).
  const anonymousPast = () =>
    db
      .select(loggedEventColumns)
      .from(events)
      .innerJoin(eventShapes, eq(eventShapes.id, events.shapeId))
      .where(
        and(
          eq(events.siteId, site.id),
          isNull(events.leadId),
          // The visitors first, a row each: a visitor that stored events has a row.
          sql`${events.visitorId} IN (SELECT ${visitors.id} FROM ${visitors} WHERE ${visitors.siteId} = ${site.id} AND ${inList(visitors.id, identifying)} AND ${visitors.leadId} IS NULL)`,
        ),
      );
  const [existing, visitorsRead, [latest], knownShapes, ...named] = await db.batch([
    db.select({ id: events.id }).from(events).where(and(eq(events.siteId, site.id), inList(events.id, ids))),
    visitorsWithLeads,
    // The model may have changed since the site was looked up (a retry, a long request): scores
    // written under an older version than a recompute already wrote would never be redone.
    db.select({ version: sql<number>`coalesce(max(${models.version}), 0)` }).from(models).where(eq(models.siteId, site.id)),
    shapeIds(db, site.id, [...new Set(shapeKeys)]),
    // Sent only when the batch has an e-mail, or an identify: every statement is work for D1, even
    // one that asks for nothing, and a page view has neither.
    ...(emails.length ? [namedLeads()] : []),
    ...(identifying.length ? [anonymousPast()] : []),
  ]);
  // In the order sent: each is there only when it was.
  const byEmail = (emails.length ? named.shift() : []) as Awaited<ReturnType<typeof namedLeads>>;
  const anonEvents = (identifying.length ? named.shift() : []) as Awaited<ReturnType<typeof anonymousPast>>;
  const visitorRows = visitorsRead.map((r) => r.visitor);
  // A lead named twice (two of its visitors, or a visitor and its e-mail) is one.
  const leadRows = [...new Map([...visitorsRead.flatMap((r) => (r.lead ? [r.lead] : [])), ...byEmail].map((l) => [l.id, l])).values()];
  if (latest && latest.version > site.modelVersion) {
    site = { ...site, model: (await modelVersion(db, site.id, latest.version)) ?? site.model, modelVersion: latest.version };
    onNewerModel?.(site);
  }
  // A lead's past comes with its row, one row read whatever its length (see `db/lead-history`);
  // only a lead of thousands of events has pages to read besides, a round trip more.
  const histories = await storedHistories(db, leadRows);
  const shapes = new Map<number, EventShape>();
  await shapesOfHistories(db, [...histories.values()].map((h) => h.whole), shapeCache, shapes);
  const working = leadRows.map((row): WorkingLead => {
    const { kept, whole } = histories.get(row.id)!;
    return { row, isNew: false, events: historyEvents(whole, shapes), kept, pages: row.historyPages, added: [], historyChanged: false, profileChanged: false, touched: false };
  });
  const known = new Set(existing.map((r) => r.id));
  const byId = new Map(working.map((l) => [l.row.id, l]));
  let { paces, needLog } = visitorPaces(batch, known, visitorRows, now, (id) => byId.get(id));
  if (needLog.length) {
    // A lead's page views crowd a window: its visitors' own are counted from the log (rare).
    const log = groupBy(await loggedEvents(db, site.id, needLog), (e) => e.leadId!);
    ({ paces } = visitorPaces(batch, known, visitorRows, now, (id) => byId.get(id), log));
  }
  return { site, known, visitorRows, paces, leads: working, anonEvents, knownShapes, recalled: null, justRead: false };
}

/**
 * The reading of a batch as the isolate recalls it, or null when it cannot: an identify or a form
 * with an e-mail (whose lead, and the visitor's anonymous past, only a read finds), a visitor or
 * lead it does not recall, a robot, or a visitor this batch would catch as one (what it stored
 * before must be read to be set aside).
 */
function recalledReading(memory: Recall, site: SiteContext, batch: WireEvent[], { identities, shapeKeys }: BatchFacts, now: number, justRead: boolean): Reading | null {
  if (identities.some(Boolean)) return null;
  const recalled = recalledVisitors(memory, site.id, visitorIdsOf(batch));
  if (!recalled) return null;
  const visitorRows = [...recalled].map(([id, v]) => ({ id, ...v }));
  if (visitorRows.some((v) => v.robotSince !== null)) return null;
  const working = new Map<string, WorkingLead>();
  for (const { leadId } of visitorRows) {
    if (!leadId || working.has(leadId)) continue;
    const lead = memory.lead(site.id, leadId);
    if (!lead) return null;
    working.set(leadId, { row: { ...lead.row }, isNew: false, events: [...lead.events], kept: [...lead.kept], pages: lead.row.historyPages, added: [...lead.added], historyChanged: false, profileChanged: false, touched: false });
  }
  const known = new Set<string>();
  const { paces, needLog } = visitorPaces(batch, known, visitorRows, now, (id) => working.get(id));
  if (needLog.length || [...paces.values()].some((p) => p.caught)) return null;
  const knownShapes = knownShapesOf(memory, site.id, shapeKeys);
  return { site, known, visitorRows, paces, leads: [...working.values()], anonEvents: [], knownShapes, recalled, justRead };
}

/** The shapes of these keys whose ids the isolate recalls. */
const knownShapesOf = (memory: Recall, siteId: string, shapeKeys: readonly string[]) =>
  [...new Set(shapeKeys)].flatMap((key) => {
    const id = memory.shapeId(siteId, key);
    return id === undefined ? [] : [{ id, key }];
  });

async function attemptIngest(memory: Recall, db: Database, reading: Reading, batch: WireEvent[], { identities, shapes, shapeKeys }: BatchFacts, now: number): Promise<IngestResult> {
  const { site, known, visitorRows, paces, knownShapes } = reading;
  const byId = new Map<string, WorkingLead>();
  const byEmail = new Map<string, WorkingLead>();
  for (const lead of reading.leads) {
    byId.set(lead.row.id, lead);
    byEmail.set(lead.row.email, lead);
  }
  // The visitors' leads as stored, and as this batch leaves them (identify moves a visitor).
  const storedLead: ReadonlyMap<string, string | null> = new Map(visitorRows.map((v) => [v.id, v.leadId]));
  const visitorLead = new Map(storedLead);
  const anonStored: Map<string, (ScoringEvent & StoredEvent)[]> = groupBy(reading.anonEvents, (e) => e.visitorId!);
  // A visitor caught now takes back what it had sent: its events leave its lead's score.
  let robotEvents = 0;
  const caught = [...paces].filter(([, p]) => p.caught).map(([visitor]) => visitor);
  for (const visitor of caught) anonStored.delete(visitor);
  const caughtLeads = groupBy(
    caught.filter((v) => byId.has(visitorLead.get(v) ?? '')),
    (v) => visitorLead.get(v)!,
  );
  if (caughtLeads.size) {
    // A history does not say which visitor sent what: the leads of visitors caught now (rare) have
    // their events read from the log, and keep those of their other visitors.
    const stored = await loggedEvents(db, site.id, [...caughtLeads.keys()]);
    for (const [leadId, robots] of caughtLeads) {
      const lead = byId.get(leadId)!;
      const all = stored.filter((e) => e.leadId === leadId);
      const kept = all.filter((e) => !robots.includes(e.visitorId ?? ''));
      robotEvents += all.length - kept.length;
      lead.events = kept;
      // The whole history again, pages and row: its pages are written anew.
      lead.kept = kept.map(({ ts, shapeId }) => ({ ts, shapeId }));
      lead.pages = 0;
      lead.historyChanged = true;
      lead.touched = true;
    }
  }
  /** Visitors identified by this batch, with the anonymous events the read found of each. */
  const identified = new Map<string, number>();

  const newRows: NewEvent[] = [];
  /** Visitors leaving their lead for another: their anonymous past stays the first lead's. */
  const attributions: { visitorId: string; leadId: string }[] = [];
  const seen: Record<string, { first: number; last: number }> = {};
  const result: IngestResult = { accepted: [], duplicates: [], robots: [], changed: false };

  batch.forEach((e, i) => {
    if (known.has(e.id)) return void result.duplicates.push(e.id);
    if (e.visitor) {
      const s = (seen[e.visitor] ??= { first: e.ts, last: e.ts });
      s.first = Math.min(s.first, e.ts);
      s.last = Math.max(s.last, e.ts);
      if (paces.get(e.visitor)!.robotSince !== null) return void result.robots.push(e.id);
    }
    known.add(e.id);
    result.accepted.push(e.id);
    let lead = e.visitor ? byId.get(visitorLead.get(e.visitor) ?? '') : undefined;
    const identity = identities[i];
    if (identity) {
      lead = byEmail.get(identity.email) ?? createLead(site.id, identity.email, now);
      byEmail.set(identity.email, lead);
      byId.set(lead.row.id, lead);
      lead.row.profile = mergeProfile(lead.row.profile as StoredProfile, identity.profile, identity.email);
      lead.profileChanged = true;
      lead.touched = true;
      if (e.visitor && visitorLead.get(e.visitor) !== lead.row.id) {
        // The visitor's anonymous history, stored or earlier in this batch, now counts for the lead.
        const was = visitorLead.get(e.visitor);
        visitorLead.set(e.visitor, lead.row.id);
        // Its anonymous events, stored, are the lead's by the visitor's link, not rewritten (see
        // `db/lead-events`); should the visitor leave for another lead, they stay the first's.
        if (was) attributions.push({ visitorId: e.visitor, leadId: was });
        else {
          const stored = anonStored.get(e.visitor) ?? [];
          identified.set(e.visitor, stored.length);
          anonStored.delete(e.visitor);
          const pending = newRows.filter((r) => r.visitorId === e.visitor && !r.leadId);
          for (const r of pending) r.leadId = lead.row.id;
          lead.events.push(...stored, ...pending.map(scoringView));
          lead.kept.push(...stored.map(({ ts, shapeId }) => ({ ts, shapeId })));
          lead.added.push(...pending.map((r): AddedEvent => [r.ts, r.shapeKey]));
          // The history is marked changed with the identifying event itself, just below.
        }
      }
    } else if (lead && profileSource(e)) {
      // A known lead's visitor says more of them without giving the e-mail again: a second,
      // shorter form (progressive profiling), identify called with new traits.
      const revealed = Object.entries(revealedProfile(e)).filter(([k, v]) => k !== 'email' && lead!.row.profile[k] !== v);
      if (revealed.length) {
        lead.row.profile = mergeProfile(lead.row.profile as StoredProfile, Object.fromEntries(revealed), lead.row.email);
        lead.profileChanged = true;
      }
    }
    const row = toRow(site.id, e, shapes[i]!, shapeKeys[i]!, lead?.row.id ?? null, now);
    newRows.push(row);
    if (lead) {
      lead.events.push(scoringView(row));
      lead.added.push([row.ts, row.shapeKey]);
      lead.historyChanged = true;
      lead.touched = true;
    }
  });

  if (newRows.length === 0 && result.robots.length === 0) return result;
  const shapesKnown = new Map(knownShapes.map((s) => [s.key, s.id]));
  const touched = [...byId.values()].filter((l) => l.touched);
  const recalled = reading.recalled;
  const trusted = recalled && !reading.justRead;
  const held = trusted ? recallHeld(site.id, recalled, touched.length ? site.modelVersion : null) : undefined;
  const { items, scored, newShapesAt } = writes(db, site, touched, newRows, shapesKnown, attributions, seen, paces, visitorLead, storedLead, now, recalled !== null, held);
  items.push(...robotWrites(db, site.id, paces, visitorLead, robotEvents + result.robots.length, now).map(fromDrizzle));
  const anonymous = [...new Set(newRows.flatMap((r) => (r.visitorId && !r.leadId ? [r.visitorId] : [])))];
  // After a read, the visitors' anonymity is checked first, when there is any to check.
  const first = trusted ? [] : visitorGuard(db, site.id, anonymous, identified);
  const written = await runBatch(db.$client, [...first, ...items]);
  // The shapes this request met, known or new, are cached with their ids: the next events of these
  // leads find their histories' shapes without a read.
  rememberShapes(memory, site.id, newRows, knownShapes, newShapesAt.map((i) => written[i + first.length]!));
  remember(memory, site.id, scored, seen, paces, visitorLead);
  result.changed = scored.some((s) => s.rescored.transitions.length > 0);
  return result;
}

/** What this write left in D1, for the next events of these visitors and leads (see `recall`). */
function remember(
  memory: Recall,
  siteId: string,
  scored: { lead: WorkingLead; rescored: Rescored }[],
  seen: Record<string, unknown>,
  paces: Map<string, VisitorPace>,
  visitorLead: Map<string, string | null>,
) {
  for (const id of Object.keys(seen)) {
    const { start, count, robotSince } = paces.get(id)!;
    memory.rememberVisitor(siteId, id, { leadId: visitorLead.get(id) ?? null, paceStart: start, paceCount: count, robotSince });
  }
  for (const { lead, rescored } of scored) {
    // Its pages as written: those it kept (a write that adds some is not remembered, see `rememberLead`).
    const row: LeadRow = { ...lead.row, ...rescored.values, historyPages: lead.pages, rev: lead.isNew ? lead.row.rev : lead.row.rev + 1 };
    // Added events whose shape id is known now join the kept ones; the others stay found by key.
    const { kept, added } = withKnownShapes({ kept: lead.kept, added: lead.historyChanged ? lead.added : [], pages: lead.pages }, (key) => memory.shapeId(siteId, key));
    memory.rememberLead(siteId, { row, events: lead.events, kept, added });
  }
}

interface VisitorPace extends Pace {
  robotSince: number | null;
  /** Caught by this batch: what it stored before must be set aside. */
  caught: boolean;
  /** Paced from its lead's history: its row's pace stays as stored, and is not written. */
  byLead: boolean;
}

/** The times of the page views among `events`. */
const pageViewTimes = (events: Iterable<{ type: string; ts: number }>) => {
  const out: number[] = [];
  for (const e of events) if (e.type === 'page_view') out.push(e.ts);
  return out;
};

/**
 * Each visitor of the batch's pace after its new page views, and whether it is a robot.
 *
 * A lead's visitor is paced from the page views its lead's history holds (`crowded`), whatever
 * browser sent them, so that its page views need no row of the visitor written: its stored pace
 * stays as it was when it identified. A history does not say which visitor sent what, so when the
 * lead's page views crowd a window the visitor's own are counted from the log (`log`; without it,
 * the lead is named in `needLog`): a person's second browser is never taken for the robot that
 * shares its lead.
 */
function visitorPaces(
  batch: WireEvent[],
  known: ReadonlySet<string>,
  rows: readonly VisitorRow[],
  now: number,
  leadOf: (leadId: string) => WorkingLead | undefined,
  log?: ReadonlyMap<string, readonly { visitorId: string | null; ts: number; type: string }[]>,
): { paces: Map<string, VisitorPace>; needLog: string[] } {
  const views = new Map<string, number[]>();
  for (const e of batch) {
    if (!e.visitor) continue;
    const times = views.get(e.visitor) ?? [];
    views.set(e.visitor, times);
    if (e.type === 'page_view' && !known.has(e.id)) times.push(e.ts);
  }
  const stored = new Map(rows.map((r) => [r.id, r]));
  // The batch's new page views by lead, of the visitors that had one.
  const leadViews = new Map<string, number[]>();
  for (const [visitor, times] of views) {
    const leadId = stored.get(visitor)?.leadId;
    if (leadId) leadViews.set(leadId, [...(leadViews.get(leadId) ?? []), ...times]);
  }
  const byTime = (a: number, b: number) => a - b;
  const paces = new Map<string, VisitorPace>();
  const needLog = new Set<string>();
  for (const [visitor, times] of views) {
    const row = stored.get(visitor);
    const lead = row?.leadId && row.robotSince === null ? leadOf(row.leadId) : undefined;
    if (row?.leadId && lead) {
      let robot = false;
      if (crowded([...pageViewTimes(lead.events), ...leadViews.get(row.leadId)!].sort(byTime), times)) {
        const logged = log?.get(row.leadId);
        if (!logged) {
          needLog.add(row.leadId);
          continue;
        }
        robot = crowded([...pageViewTimes(logged.filter((e) => e.visitorId === visitor)), ...times].sort(byTime), times);
      }
      paces.set(visitor, { start: row.paceStart, count: row.paceCount, robotSince: robot ? now : null, caught: robot, byLead: true });
      continue;
    }
    const { pace, robot } = advancePace({ start: row?.paceStart ?? null, count: row?.paceCount ?? 0 }, times);
    const robotSince = row?.robotSince ?? (robot ? now : null);
    paces.set(visitor, { ...pace, robotSince, caught: robot && row?.robotSince == null, byLead: false });
  }
  return { paces, needLog: [...needLog] };
}

/**
 * The robots' part of the batch: their events counted for the day, and, for a visitor caught now,
 * the events it stored before deleted — those anonymous and those of its lead (events it left with
 * an earlier lead, before identifying as another, stay there). Its pace is written with the other
 * visitors' (see `writes`).
 */
function robotWrites(
  db: Database,
  siteId: string,
  paces: Map<string, VisitorPace>,
  visitorLead: Map<string, string | null>,
  count: number,
  now: number,
): BatchItem<'sqlite'>[] {
  const caught = [...paces].flatMap(([visitor, p]) => (p.caught ? [visitor] : []));
  if (count === 0 && caught.length === 0) return [];
  const anonymousOf = (visitorIds: readonly string[]) => and(eq(events.siteId, siteId), isNull(events.leadId), inList(events.visitorId, visitorIds));
  // A lead's visitor's events, those from before it identified too, are in `count` already (read
  // from its lead's log): only the anonymous visitors' are counted here.
  const strangers = caught.filter((v) => !visitorLead.get(v));
  const stored = sql<number>`(SELECT count(*) FROM ${events} WHERE ${anonymousOf(strangers)})`;
  const out: BatchItem<'sqlite'>[] = [countRobot(db, siteId, strangers.length ? sql`${count} + ${stored}` : count, now)];
  if (caught.length) out.push(db.delete(events).where(anonymousOf(caught)));
  for (const visitor of caught) {
    const lead = visitorLead.get(visitor);
    if (lead) out.push(db.delete(events).where(and(eq(events.leadId, lead), eq(events.visitorId, visitor))));
  }
  return out;
}

/**
 * Fails the batch, as a lead changed since read does (see `writeConflicts`), when a visitor's
 * anonymity changed since the read: a visitor whose events are written as anonymous got a lead from
 * a concurrent request (its events would stay out of the lead for good), or a visitor identified
 * here got anonymous events the read did not see (the attribution would hand them to the lead
 * unscored). A browser sends both at once when a click on a download and a form go together. Each
 * check is left out when it has nothing to check: D1 counts a row read even for an empty list. A
 * lead's page view, whose visitor is neither, sends no guard at all.
 */
function visitorGuard(db: Database, siteId: string, anonymous: string[], identified: Map<string, number>): Statement[] {
  const checks = [
    ...(anonymous.length
      ? [sql`SELECT ${visitors.leadId} FROM ${visitors} WHERE ${visitors.siteId} = ${siteId} AND ${inList(visitors.id, anonymous)} AND ${visitors.leadId} IS NOT NULL`]
      : []),
    ...(identified.size
      ? [
          sql`SELECT j.value ->> 0 FROM json_each(${JSON.stringify([...identified])}) AS j
    WHERE (SELECT count(*) FROM ${events} WHERE ${events.siteId} = ${siteId} AND ${events.visitorId} = j.value ->> 0 AND ${events.leadId} IS NULL)
      <> j.value ->> 1`,
        ]
      : []),
  ];
  return checks.length ? [fromDrizzle(db.insert(writeConflicts).select(sql.join(checks, sql` UNION ALL `)))] : [];
}

function createLead(siteId: string, email: string, now: number): WorkingLead {
  const row: LeadRow = {
    id: newLeadId(now),
    siteId,
    email,
    profile: {},
    fit: 0,
    activity: 0,
    engagement: 0,
    score: 0,
    band: null,
    stage: 'prospect',
    excludedReason: null,
    rev: 0,
    eventCount: 0,
    lastEventAt: null,
    scoredAt: null,
    modelVersion: 0,
    nextChangeAt: null,
    recycledAt: null,
    history: '',
    historyPages: 0,
    createdAt: now,
    updatedAt: now,
  };
  return { row, isNew: true, events: [], kept: [], pages: 0, added: [], historyChanged: true, profileChanged: true, touched: true };
}

function shapeOfWire(e: WireEvent): EventShape {
  const contentType = e.contentType ?? e.fields?.content_type ?? null;
  return shapeOf({ type: e.type, url: e.url ?? null, contentType: contentType ? contentType.toLowerCase() : null, props: e.props ?? null });
}

function toRow(siteId: string, e: WireEvent, shape: EventShape, shapeKey: string, leadId: string | null, now: number): NewEvent {
  return {
    siteId,
    id: e.id,
    visitorId: e.visitor ?? null,
    leadId,
    ts: e.ts,
    url: e.url ?? null,
    title: e.title ?? null,
    referrer: e.referrer ?? null,
    receivedAt: now,
    shape,
    shapeKey,
  };
}

/**
 * The events' rows, 8 a statement (11 bound values each, under D1's 100 a statement), their shape
 * ids looked up by key in the same transaction: a shape erased since the read leaves the id NULL
 * and fails the batch. Spelled as SQL rather than with drizzle's builder, whose building of each
 * row's subquery was a good part of a collect request's CPU; as VALUES rather than a JSON
 * parameter, which D1 bills a row read an event for. Unless `strict`, an event stored meanwhile by
 * another request is skipped. The rows may hang on a condition, one of two kinds, never both: a
 * guessed batch's rows are skipped when its `guess` fails (see `anonymous-guess`); a checked
 * batch's first statement carries what must hold for the batch to stand (`mustHold`, see
 * `writes`), its values in the room `chunksFor` leaves beside the rows' 88, at most 8
 * (`recallHeld`'s 7 and the lead check's 1).
 */
function eventInserts(
  siteId: string,
  rows: readonly NewEvent[],
  strict: boolean,
  { guess, mustHold }: { guess: Condition; mustHold?: never } | { guess?: never; mustHold?: Condition },
): Statement[] {
  return chunksFor(rows, 12).map((chunk, i) => {
    // The first statement alone carries what must hold: the batch is one transaction.
    const held = i === 0 ? mustHold : undefined;
    return {
      sql: textFor(`events:${chunk.length}:${strict}:${guess?.key}:${held?.key}`, () =>
        `INSERT INTO events (${EVENT_COLUMNS.join(', ')})
        ${held ? insertedRowsOrFail(chunk.length, EVENT_ROW, EVENT_COLUMNS, 'shape_id', held.sql) : insertedRows(chunk.length, EVENT_ROW, guess?.sql)}
        ${strict ? '' : 'ON CONFLICT DO NOTHING'}`,
      ),
      params: [
        ...(held?.params ?? []),
        ...chunk.flatMap((r) => [siteId, r.id, r.visitorId ?? null, r.leadId ?? null, siteId, r.shapeKey, r.ts, r.url ?? null, r.title ?? null, r.referrer ?? null, r.receivedAt]),
        ...(guess?.params ?? []),
      ],
    };
  });
}

/** An event's columns, in the order of `EVENT_ROW`'s values. */
const EVENT_COLUMNS = ['site_id', 'id', 'visitor_id', 'lead_id', 'shape_id', 'ts', 'url', 'title', 'referrer', 'received_at'] as const;

/** An event's row, one value a column of `EVENT_COLUMNS`: its shape id looked up by key. */
const EVENT_ROW = '(?, ?, ?, ?, (SELECT id FROM event_shapes WHERE site_id = ? AND key = ?), ?, ?, ?, ?, ?)';

/**
 * The shapes of `rows` not in `known`: inserted, then their ids read back, for the isolate to keep
 * (`rememberShapes`). A shape stored already (by another request, or long ago) is left out by the
 * insert's own lookup rather than by a conflict, which D1 counted as a row written (the table's
 * AUTOINCREMENT sequence): an isolate new to a site meets every one of its pages so. D1 runs one
 * batch at a time, so the lookup sees every shape stored, and the keys here are distinct.
 * An INSERT's RETURNING answers only the rows it inserted: an isolate new to a site's pages would
 * never learn the ids of the shapes it found stored, and would send their insert again with every
 * request, and its leads' histories would name their events by key, looked up again at each write.
 * Each event looks its shape up by key in the same transaction: a shape an erasure deleted since the
 * read leaves its id null, which fails the batch, and the request is redone (`isWriteConflict`).
 */
function shapeWrites(db: Database, siteId: string, rows: readonly NewEvent[], known: { has(key: string): boolean }): Statement[] {
  const shapes = new Map(rows.filter((r) => !known.has(r.shapeKey)).map((r) => [r.shapeKey, r.shape]));
  if (shapes.size === 0) return [];
  return [
    ...chunksFor([...shapes], SHAPE_COLUMNS.length).map((chunk) => ({
      sql: textFor(`shapes:${chunk.length}`, () =>
        `INSERT INTO event_shapes (${SHAPE_COLUMNS.join(', ')})
        SELECT * FROM (VALUES ${placeholders(chunk.length, SHAPE_ROW)}) AS v
        WHERE NOT EXISTS (SELECT 1 FROM event_shapes WHERE site_id = v.column1 AND key = v.column2)`,
      ),
      params: chunk.flatMap(([key, s]) => [siteId, key, s.type, s.url, s.contentType, s.props === null ? null : JSON.stringify(s.props)]),
    })),
    fromDrizzle(shapeIds(db, siteId, [...shapes.keys()])),
  ];
}

/** A shape's columns, in the order of `SHAPE_ROW`'s values. */
const SHAPE_COLUMNS = ['site_id', 'key', 'type', 'url', 'content_type', 'props'] as const;
const SHAPE_ROW = '(?, ?, ?, ?, ?, ?)';

/** The ids of a site's shapes of these keys, those it has. */
function shapeIds(db: Database, siteId: string, keys: readonly string[]) {
  return db
    .select({ id: eventShapes.id, key: eventShapes.key })
    .from(eventShapes)
    .where(and(eq(eventShapes.siteId, siteId), inList(eventShapes.key, keys)));
}

/** The shapes the isolate met in a write (those it knew, those the write's shape statements answered), kept by id and key. */
function rememberShapes(memory: Recall, siteId: string, rows: readonly NewEvent[], known: readonly { id: number; key: string }[], shaping: readonly D1Result[]) {
  const shapeOfKey = new Map(rows.map((r) => [r.shapeKey, r.shape]));
  for (const { id, key } of [...known, ...shaping.flatMap((r) => r.results as { id: number; key: string }[])]) {
    if (shapeOfKey.has(key)) shapeCache.set(id, shapeOfKey.get(key)!);
    memory.rememberShape(siteId, key, id);
  }
}

/**
 * The batch written on the guess that its visitor is anonymous (see `anonymous-guess`), in one round
 * trip: the result when the guess held. When it did not, what the batch read of the visitor and its
 * lead is recalled for the next attempt: `'read'` when that attempt may write as after a read, false
 * when it must check the memory as ever (a model saved since the site was looked up) or read (a
 * robot, a lead with pages). Null when the batch cannot be guessed.
 */
async function guessAnonymous(memory: Recall, db: Database, site: SiteContext, batch: WireEvent[], { identities, shapes, shapeKeys }: BatchFacts, now: number): Promise<IngestResult | 'read' | false | null> {
  const visitor = guessableVisitor(memory, site.id, batch, identities.some(Boolean));
  if (!visitor) return null;
  const rows = batch.map((e, i) => toRow(site.id, e, shapes[i]!, shapeKeys[i]!, null, now));
  const knownShapes = knownShapesOf(memory, site.id, shapeKeys);
  const shaping = shapeWrites(db, site.id, rows, new Set(knownShapes.map((s) => s.key)));
  const view = batch.find((e) => e.type === 'page_view')?.ts ?? null;
  const guess = anonymous(site.id, visitor, view);
  const times = batch.map((e) => e.ts);
  const upsert: VisitorWrite = {
    id: visitor,
    leadId: null,
    setsLead: false,
    firstSeen: Math.min(...times),
    lastSeen: Math.max(...times),
    paceStart: view,
    paceCount: view === null ? 0 : 1,
    robotSince: null,
  };
  const written = await runBatch(db.$client, [
    ...shaping,
    ...eventInserts(site.id, rows, true, { guess }),
    // Right after the events' last insert, whose rows say whether the guess held.
    ...visitorWrites(site.id, [upsert], guessHeld),
    guessRead(site.id, visitor),
  ]);
  rememberShapes(memory, site.id, rows, knownShapes, written.slice(0, shaping.length));
  const [upserted, read] = written.slice(-2).map((r) => r.results[0] as Record<string, unknown> | undefined);
  if (upserted) {
    memory.rememberVisitor(site.id, visitor, upserted as unknown as RecalledVisitor);
    return { accepted: rows.map((r) => r.id), duplicates: [], robots: [], changed: false };
  }
  // A lead's visitor: recalled as read, and its lead with its events, unless the lead has pages to
  // read besides its row. A robot, or a visitor this page view catches, is read in full.
  if (!read) return false;
  const { visitor: stored, lead, modelVersion } = guessedState(read);
  memory.rememberVisitor(site.id, visitor, stored);
  if (lead && lead.historyPages === 0) {
    const kept = parseHistory(lead.history ?? '');
    const known = new Map<number, EventShape>();
    await shapesOfHistories(db, [kept], shapeCache, known);
    memory.rememberLead(site.id, { row: lead, events: historyEvents(kept, known), kept, added: [] });
  }
  // Read by this request, under the model the site has: the write is guarded as after a read.
  return modelVersion > site.modelVersion ? false : 'read';
}

function writes(
  db: Database,
  site: SiteContext,
  touched: WorkingLead[],
  newRows: NewEvent[],
  /** The ids of the shapes the reading knows, by key. */
  shapesKnown: ReadonlyMap<string, number>,
  attributions: { visitorId: string; leadId: string }[],
  seen: Record<string, { first: number; last: number }>,
  paces: Map<string, VisitorPace>,
  visitorLead: Map<string, string | null>,
  storedLead: ReadonlyMap<string, string | null>,
  now: number,
  /** Built on recalled state: an event stored before must fail the batch, not be skipped. */
  strict: boolean,
  /** What the recalled state this write is built on must still hold to (see `recallHeld`). */
  held: Condition | undefined,
): { items: Statement[]; scored: { lead: WorkingLead; rescored: Rescored }[]; newShapesAt: number[] } {
  const out: Statement[] = [];
  const writing = touched.map((lead) => {
    const rescored = rescore(site.model, site.modelVersion, lead.isNew ? null : storedState(lead.row), lead.events, lead.row.profile, now);
    const profile = lead.profileChanged ? lead.row.profile : undefined;
    const history = lead.historyChanged ? withKnownShapes({ kept: lead.kept, added: lead.added, pages: lead.pages }, (key) => shapesKnown.get(key)) : undefined;
    return lead.isNew
      ? { isNew: true as const, row: lead.row, rescored, profile, history, lead }
      : { isNew: false as const, row: lead.row, rescored, profile, history, lead };
  });
  // Shapes the read did not find: first, so that `newShapesAt` counts from the batch's guard.
  const newShapesAt: number[] = [];
  for (const statement of shapeWrites(db, site.id, newRows, shapesKnown)) {
    newShapesAt.push(out.length);
    out.push(statement);
  }
  // After the shapes, whose ids the leads' histories take by key; before the events, which name their lead.
  const leadStatements = leadWrites(writing, 'event');
  // The events' first insert comes next and carries the checks: the one that must follow the last
  // lead's UPDATE (a live event's lead is written by one UPDATE and this check), and what recalled
  // state holds to. A recalled page view is thus two statements, not three or four. A batch with no
  // event to insert (its every event a robot's, always read first) keeps the lead's check where it
  // is. Recalled state always brings events (no robot, nothing known as stored); were it ever not
  // to, its check would go first as a statement of its own rather than be lost.
  const trailing = newRows.length ? leadStatements.at(-1)?.check : undefined;
  if (trailing) leadStatements.pop();
  out.push(...leadStatements);
  out.push(...eventInserts(site.id, newRows, strict, { mustHold: allOf([trailing, held]) }));
  if (held && !newRows.length) out.unshift(failUnless(held));
  for (const a of attributions) {
    const attribute = db
      .update(events)
      .set({ leadId: a.leadId })
      .where(and(eq(events.siteId, site.id), eq(events.visitorId, a.visitorId), isNull(events.leadId)));
    out.push(fromDrizzle(attribute));
  }
  const visitorRows = Object.entries(seen).flatMap(([id, s]): VisitorWrite[] => {
    const setsLead = (visitorLead.get(id) ?? null) !== (storedLead.get(id) ?? null);
    const pace = paces.get(id)!;
    // A lead's visitor paced by its lead changes nothing of its row: its `last_seen` is its events'
    // (the export reads it there), its pace its lead's history.
    if (pace.byLead && !pace.caught && !setsLead) return [];
    return [{
      id,
      leadId: visitorLead.get(id) ?? null,
      setsLead,
      firstSeen: s.first,
      lastSeen: s.last,
      paceStart: pace.start,
      paceCount: pace.count,
      robotSince: pace.robotSince,
    }];
  });
  out.push(...visitorWrites(site.id, visitorRows));
  return { items: out, scored: writing, newShapesAt };
}
