/**
 * @module Validated events → identity → scores → one D1 batch.
 *
 * Each attempt reads what it needs in one batch of selects, decides everything in memory with the
 * pure engine, and writes in one batch (one transaction): events, visitors, leads, transitions land
 * together or not at all. A lead changed by a concurrent request between the read and the write
 * fails the write (see `writeConflicts`), and the attempt is redone from a fresh read.
 */
import { and, eq, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { chunksFor, database, inJson, type Database } from '../db/client';
import { modelVersion } from '../db/models';
import { events, leads, models, visitors, writeConflicts } from '../db/schema';
import type { SiteContext } from '../env';
import { ApiError } from '../lib/errors';
import { newLeadId } from '../lib/ids';
import type { Stage } from '../scoring/model';
import { rescore } from '../leads/rescore';
import type { StoredState } from '../leads/transitions';
import { isWriteConflict, leadWrites, type LeadRow } from '../leads/write';
import { identityOf } from './identity';
import { advancePace, type Pace } from './pace';
import { mergeProfile, type StoredProfile } from './profile-fields';
import { countRobot } from './robot-counts';
import type { WireEvent } from './wire';

export interface IngestResult {
  accepted: string[];
  duplicates: string[];
  /** Events of visitors whose pace gave them away as robots: counted apart, not stored. */
  robots: string[];
  /** Some lead changed band, stage or exclusion: the webhooks have something to deliver. */
  changed: boolean;
}

type EventRow = typeof events.$inferInsert & { id: string; type: string; ts: number };

interface WorkingLead {
  row: LeadRow;
  isNew: boolean;
  events: EventRow[];
  touched: boolean;
}

/** Attempts before giving up on a lead that other requests keep changing; the client retries a 503. */
const MAX_ATTEMPTS = 12;

export async function ingest(d1: D1Database, site: SiteContext, batch: WireEvent[], now: number): Promise<IngestResult> {
  const db = database(d1);
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptIngest(db, site, batch, now);
    } catch (err) {
      if (!isWriteConflict(err)) throw err;
      if (attempt >= MAX_ATTEMPTS) {
        throw new ApiError(503, 'write_conflict', 'the same leads are being written by other requests; send again');
      }
      // Jitter, so that requests that collided do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4 * attempt));
    }
  }
}

const eventColumns = {
  seq: events.seq,
  id: events.id,
  visitorId: events.visitorId,
  leadId: events.leadId,
  type: events.type,
  ts: events.ts,
  url: events.url,
  contentType: events.contentType,
  props: events.props,
};

async function attemptIngest(db: Database, site: SiteContext, batch: WireEvent[], now: number): Promise<IngestResult> {
  const ids = batch.map((e) => e.id);
  const visitorIds = [...new Set(batch.flatMap((e) => (e.visitor ? [e.visitor] : [])))];
  const identities = batch.map(identityOf);
  const emails = [...new Set(identities.flatMap((i) => (i ? [i.email] : [])))];
  const identifying = [...new Set(batch.flatMap((e, i) => (identities[i] && e.visitor ? [e.visitor] : [])))];

  const leadsInPlay: SQL = or(
    inJson(leads.email, emails),
    sql`${leads.id} IN (SELECT lead_id FROM visitors WHERE site_id = ${site.id} AND ${inJson(visitors.id, visitorIds)})`,
  )!;
  const [existing, visitorRows, leadRows, leadEvents, anonEvents, [latest]] = await db.batch([
    db.select({ id: events.id }).from(events).where(and(eq(events.siteId, site.id), inJson(events.id, ids))),
    db
      .select({ id: visitors.id, leadId: visitors.leadId, paceStart: visitors.paceStart, paceCount: visitors.paceCount, robotSince: visitors.robotSince })
      .from(visitors)
      .where(and(eq(visitors.siteId, site.id), inJson(visitors.id, visitorIds))),
    db.select().from(leads).where(and(eq(leads.siteId, site.id), leadsInPlay)),
    db
      .select(eventColumns)
      .from(events)
      .where(sql`${events.leadId} IN (SELECT ${leads.id} FROM ${leads} WHERE ${leads.siteId} = ${site.id} AND ${leadsInPlay})`),
    db
      .select(eventColumns)
      .from(events)
      .where(and(eq(events.siteId, site.id), isNull(events.leadId), inJson(events.visitorId, identifying))),
    // The model may have changed since the site was looked up (a retry, a long request): scores
    // written under an older version than a recompute already wrote would never be redone.
    db.select({ version: sql<number>`coalesce(max(${models.version}), 0)` }).from(models).where(eq(models.siteId, site.id)),
  ]);
  if (latest && latest.version > site.modelVersion) {
    site = { ...site, model: (await modelVersion(db, site.id, latest.version)) ?? site.model, modelVersion: latest.version };
  }

  const known = new Set(existing.map((r) => r.id));
  const paces = visitorPaces(batch, known, visitorRows, now);
  const byId = new Map<string, WorkingLead>();
  const byEmail = new Map<string, WorkingLead>();
  for (const row of leadRows) {
    const w: WorkingLead = { row, isNew: false, events: [], touched: false };
    byId.set(row.id, w);
    byEmail.set(row.email, w);
  }
  for (const e of leadEvents) byId.get(e.leadId!)?.events.push(e as EventRow);
  const visitorLead = new Map(visitorRows.map((v) => [v.id, v.leadId]));
  const anonStored = new Map<string, EventRow[]>();
  for (const e of anonEvents) anonStored.set(e.visitorId!, [...(anonStored.get(e.visitorId!) ?? []), e as EventRow]);
  // A visitor caught now takes back what it had sent: its events leave its lead's score.
  let robotEvents = 0;
  for (const [visitor, p] of paces) {
    if (!p.caught) continue;
    anonStored.delete(visitor);
    const lead = byId.get(visitorLead.get(visitor) ?? '');
    if (!lead) continue;
    const kept = lead.events.filter((ev) => ev.visitorId !== visitor);
    robotEvents += lead.events.length - kept.length;
    lead.events = kept;
    lead.touched = true;
  }
  /** Visitors identified by this batch, with the anonymous events the read found of each. */
  const identified = new Map<string, number>();

  const newRows: EventRow[] = [];
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
      lead.touched = true;
      if (e.visitor && visitorLead.get(e.visitor) !== lead.row.id) {
        // The visitor's anonymous history, stored or earlier in this batch, now counts for the lead.
        const wasAnonymous = !visitorLead.get(e.visitor);
        visitorLead.set(e.visitor, lead.row.id);
        if (wasAnonymous) {
          const stored = anonStored.get(e.visitor) ?? [];
          identified.set(e.visitor, stored.length);
          anonStored.delete(e.visitor);
          if (stored.length) attributions.push({ visitorId: e.visitor, leadId: lead.row.id });
          const pending = newRows.filter((r) => r.visitorId === e.visitor && !r.leadId);
          for (const r of pending) r.leadId = lead.row.id;
          lead.events.push(...stored, ...pending);
        }
      }
    }
    const row = toRow(site.id, e, lead?.row.id ?? null, now);
    newRows.push(row);
    if (lead) {
      lead.events.push(row);
      lead.touched = true;
    }
  });

  if (newRows.length === 0 && result.robots.length === 0) return result;
  const { items, changed } = writes(db, site, [...byId.values()].filter((l) => l.touched), newRows, attributions, seen, paces, visitorLead, now);
  items.push(...robotWrites(db, site.id, paces, visitorLead, robotEvents + result.robots.length, now));
  const anonymous = [...new Set(newRows.flatMap((r) => (r.visitorId && !r.leadId ? [r.visitorId] : [])))];
  await db.batch([visitorGuard(db, site.id, anonymous, identified), ...items] as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
  result.changed = changed;
  return result;
}

interface VisitorPace extends Pace {
  robotSince: number | null;
  /** Caught by this batch: what it stored before must be set aside. */
  caught: boolean;
}

/** Each visitor of the batch's pace after its new page views, and whether it is a robot. */
function visitorPaces(
  batch: WireEvent[],
  known: ReadonlySet<string>,
  rows: { id: string; paceStart: number | null; paceCount: number; robotSince: number | null }[],
  now: number,
): Map<string, VisitorPace> {
  const views = new Map<string, number[]>();
  for (const e of batch) {
    if (!e.visitor) continue;
    const times = views.get(e.visitor) ?? [];
    views.set(e.visitor, times);
    if (e.type === 'page_view' && !known.has(e.id)) times.push(e.ts);
  }
  const stored = new Map(rows.map((r) => [r.id, r]));
  const out = new Map<string, VisitorPace>();
  for (const [visitor, times] of views) {
    const row = stored.get(visitor);
    const { pace, robot } = advancePace({ start: row?.paceStart ?? null, count: row?.paceCount ?? 0 }, times);
    const robotSince = row?.robotSince ?? (robot ? now : null);
    out.set(visitor, { ...pace, robotSince, caught: robot && row?.robotSince == null });
  }
  return out;
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
  const anonymous = and(eq(events.siteId, siteId), isNull(events.leadId), inJson(events.visitorId, caught));
  const stored = sql<number>`(SELECT count(*) FROM ${events} WHERE ${anonymous})`;
  const out: BatchItem<'sqlite'>[] = [countRobot(db, siteId, caught.length ? sql`${count} + ${stored}` : count, now)];
  if (caught.length) out.push(db.delete(events).where(anonymous));
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
 * unscored). A browser sends both at once when a click on a download and a form go together.
 */
function visitorGuard(db: Database, siteId: string, anonymous: string[], identified: Map<string, number>) {
  return db.insert(writeConflicts).select(sql`
    SELECT ${visitors.leadId} FROM ${visitors}
    WHERE ${visitors.siteId} = ${siteId} AND ${inJson(visitors.id, anonymous)} AND ${visitors.leadId} IS NOT NULL
    UNION ALL
    SELECT j.value ->> 0 FROM json_each(${JSON.stringify([...identified])}) AS j
    WHERE (SELECT count(*) FROM ${events} WHERE ${events.siteId} = ${siteId} AND ${events.visitorId} = j.value ->> 0 AND ${events.leadId} IS NULL)
      <> j.value ->> 1`);
}

function createLead(siteId: string, email: string, now: number): WorkingLead {
  const row: LeadRow = {
    id: newLeadId(),
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
    createdAt: now,
    updatedAt: now,
  };
  return { row, isNew: true, events: [], touched: true };
}

function toRow(siteId: string, e: WireEvent, leadId: string | null, now: number): EventRow {
  const contentType = e.contentType ?? e.fields?.content_type ?? null;
  return {
    siteId,
    id: e.id,
    visitorId: e.visitor ?? null,
    leadId,
    type: e.type,
    ts: e.ts,
    url: e.url ?? null,
    title: e.title ?? null,
    referrer: e.referrer ?? null,
    contentType: contentType ? contentType.toLowerCase() : null,
    props: e.props && Object.keys(e.props).length ? e.props : null,
    receivedAt: now,
  };
}

function writes(
  db: Database,
  site: SiteContext,
  touched: WorkingLead[],
  newRows: EventRow[],
  attributions: { visitorId: string; leadId: string }[],
  seen: Record<string, { first: number; last: number }>,
  paces: Map<string, VisitorPace>,
  visitorLead: Map<string, string | null>,
  now: number,
): { items: BatchItem<'sqlite'>[]; changed: boolean } {
  const out: BatchItem<'sqlite'>[] = [];
  const scored = touched.map((lead) => {
    const before: StoredState | null = lead.isNew
      ? null
      : { band: lead.row.band, stage: lead.row.stage as Stage, excludedReason: lead.row.excludedReason };
    const rescored = rescore(site.model, site.modelVersion, before, lead.events, lead.row.profile, now);
    const profile = lead.row.profile;
    return lead.isNew ? { isNew: true as const, row: lead.row, rescored, profile } : { isNew: false as const, row: lead.row, rescored, profile };
  });
  out.push(...leadWrites(db, scored, 'event'));
  for (const rows of chunksFor(newRows, 13)) out.push(db.insert(events).values(rows).onConflictDoNothing());
  for (const a of attributions) {
    out.push(
      db
        .update(events)
        .set({ leadId: a.leadId })
        .where(and(eq(events.siteId, site.id), eq(events.visitorId, a.visitorId), isNull(events.leadId))),
    );
  }
  const visitorRows = Object.entries(seen).map(([id, s]) => ({
    siteId: site.id,
    id,
    leadId: visitorLead.get(id) ?? null,
    firstSeen: s.first,
    lastSeen: s.last,
    paceStart: paces.get(id)!.start,
    paceCount: paces.get(id)!.count,
    robotSince: paces.get(id)!.robotSince,
  }));
  for (const rows of chunksFor(visitorRows, 8)) {
    out.push(
      db
        .insert(visitors)
        .values(rows)
        .onConflictDoUpdate({
          target: [visitors.siteId, visitors.id],
          set: {
            firstSeen: sql`min(${visitors.firstSeen}, excluded.first_seen)`,
            lastSeen: sql`max(${visitors.lastSeen}, excluded.last_seen)`,
            leadId: sql`coalesce(excluded.lead_id, ${visitors.leadId})`,
            // Read, advanced and written whole: two requests of one visitor at once may count a
            // view or two fewer, which a pace measured in hundreds can afford.
            paceStart: sql`excluded.pace_start`,
            paceCount: sql`excluded.pace_count`,
            robotSince: sql`coalesce(${visitors.robotSince}, excluded.robot_since)`,
          },
        }),
    );
  }
  return { items: out, changed: scored.some((s) => s.rescored.transitions.length > 0) };
}
