/**
 * @module The whole D1 schema. Migrations in `migrations/` are generated from it by drizzle-kit
 * (`npm run db:generate`) and never edited once applied.
 */
import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

const now = sql`(unixepoch('subsec') * 1000)`;

export const sites = sqliteTable('sites', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** Public key embedded in pages: it can only send events. */
  siteKey: text('site_key').notNull().unique(),
  /** JSON array of origins (`https://example.com`) allowed to send events with the site key. */
  origins: text('origins', { mode: 'json' }).$type<string[]>().notNull(),
  createdAt: integer('created_at').notNull().default(now),
});

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    /** First characters of the key, to tell keys apart in a list; the key itself is never stored. */
    prefix: text('prefix').notNull(),
    /** SHA-256 of the whole key, hex. Keys are about 165 random bits, so a slow hash adds nothing. */
    hash: text('hash').notNull().unique(),
    name: text('name').notNull().default('default'),
    createdAt: integer('created_at').notNull().default(now),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('api_keys_site').on(t.siteId)],
);

export const models = sqliteTable(
  'models',
  {
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    document: text('document', { mode: 'json' }).notNull(),
    createdAt: integer('created_at').notNull().default(now),
    createdBy: text('created_by'),
  },
  (t) => [primaryKey({ columns: [t.siteId, t.version] })],
);

export const leads = sqliteTable(
  'leads',
  {
    id: text('id').primaryKey(),
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    profile: text('profile', { mode: 'json' }).$type<Record<string, string | number | boolean>>().notNull(),
    fit: real('fit').notNull().default(0),
    activity: real('activity').notNull().default(0),
    engagement: real('engagement').notNull().default(0),
    score: real('score').notNull().default(0),
    /** null while excluded: an excluded lead belongs to no band. */
    band: text('band'),
    stage: text('stage').notNull().default('prospect'),
    excludedReason: text('excluded_reason'),
    /** Optimistic-concurrency counter: a write computed from an older row is refused and redone. */
    rev: integer('rev').notNull().default(0),
    eventCount: integer('event_count').notNull().default(0),
    lastEventAt: integer('last_event_at'),
    scoredAt: integer('scored_at'),
    /** Version of the model the stored scores come from (0: the built-in default). */
    modelVersion: integer('model_version').notNull().default(0),
    /**
     * When decay alone will next move this lead to another band or stage, if ever: the cron job
     * reads this index instead of rescoring every lead.
     */
    nextChangeAt: integer('next_change_at'),
    /** Set when sales sent the lead back to nurturing. */
    recycledAt: integer('recycled_at'),
    /**
     * The lead's newest events as `ts:shape` pairs (see `db/lead-history`): what scoring reads
     * instead of the events' index. NULL only in a database before migration 0017, which moved the
     * events of the leads it held there into pages.
     */
    history: text('history').default(''),
    /**
     * How many older pages of the lead's history `lead_history_pages` holds (see `db/lead-history`):
     * 0 for all but the leads of thousands of events, and readers go there only when it is not.
     */
    historyPages: integer('history_pages').notNull().default(0),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [
    uniqueIndex('leads_site_email').on(t.siteId, t.email),
    // Walking a site's leads in id order (recomputes, previews): without it SQLite takes the leads
    // of the site by another index and sorts them all for every chunk.
    index('leads_site_id').on(t.siteId, t.id),
    // Band members by score, and through the bands every lead by score (see `listLeads`). A second
    // (site, score) index would double the index upkeep of every rescore.
    index('leads_site_band_score').on(t.siteId, t.band, t.score),
    index('leads_next_change').on(t.nextChangeAt).where(sql`next_change_at IS NOT NULL`),
  ],
);

/**
 * The older part of a long lead history, `WITHOUT ROWID` (migration 0017) and keyed by (lead, page):
 * each page holds `HISTORY_MAX` pairs at most, packed as the lead's row packs its own. A lead's
 * reader thus reads one row per page whatever the history, where it read every event's index entry
 * and row. Pages are written when the row's history overflows, once every `HISTORY_MAX` events.
 */
export const leadHistoryPages = sqliteTable(
  'lead_history_pages',
  {
    leadId: text('lead_id').notNull().references(() => leads.id, { onDelete: 'cascade' }),
    page: integer('page').notNull(),
    history: text('history').notNull(),
  },
  (t) => [primaryKey({ columns: [t.leadId, t.page] })],
);

/**
 * A browser of a site, `WITHOUT ROWID` (see migration 0014) and keyed by `(id, site_id)`, as
 * `events` is and for the same reasons: a new visitor is one row written, not a rowid row and a
 * unique index entry, and a key led by the id never tempts SQLite to walk a site's visitors for a
 * lead's. The lead index holds identified visitors only: an anonymous visitor's upsert writes its
 * row alone.
 */
export const visitors = sqliteTable(
  'visitors',
  {
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    id: text('id').notNull(),
    /** The lead this browser identified as last; null while anonymous. */
    leadId: text('lead_id').references(() => leads.id, { onDelete: 'set null' }),
    firstSeen: integer('first_seen').notNull(),
    lastSeen: integer('last_seen').notNull(),
    /** The visitor's pace of page views (see `ingest/pace.ts`): the start of its window, and views in it. */
    paceStart: integer('pace_start'),
    paceCount: integer('pace_count').notNull().default(0),
    /** When its pace gave it away as a robot: from then on its events are counted apart, never stored. */
    robotSince: integer('robot_since'),
  },
  (t) => [primaryKey({ columns: [t.id, t.siteId] }), index('visitors_lead').on(t.leadId).where(sql`lead_id IS NOT NULL`)],
);

/**
 * A site's event shapes: what rules can test of an event (see `scoring/event-shapes`). An event
 * stores its shape's id, so a recompute reads (time, shape) per event from an index and each
 * shape once, and matches rules once per shape. Ids are never reused (AUTOINCREMENT): a recompute
 * keeps the shapes it read for its whole run, and a shape erased meanwhile must not come back as
 * another one under the same id.
 */
export const eventShapes = sqliteTable(
  'event_shapes',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    /** `shapeKeyOf` of the columns below. */
    key: text('key').notNull(),
    type: text('type').notNull(),
    /** The URL as rules read it: path and `utm_campaign` only. The event keeps the full one. */
    url: text('url'),
    contentType: text('content_type'),
    props: text('props', { mode: 'json' }).$type<Record<string, unknown>>(),
  },
  (t) => [uniqueIndex('event_shapes_site_key').on(t.siteId, t.key)],
);

/**
 * The log of events, `WITHOUT ROWID` (see migration 0013) and keyed by the client's id within its
 * site: the row is its own dedupe index entry, so an event costs 2 rows written (3 while anonymous)
 * instead of 4 or 5 (a rowid row, its AUTOINCREMENT sequence row, a unique index beside it).
 * drizzle-kit knows nothing of `WITHOUT ROWID`: a migration that rebuilds this table must say it
 * again by hand (`test/worker/migrations.test.ts` checks the table's form).
 *
 * The key is `(id, site_id)`, not `(site_id, id)`: SQLite, with no statistics, prefers a key it can
 * search by `site_id` alone (it holds every column) to the indexes below, and walked a site's whole
 * log for a visitor's or a lead's events. Led by the id, the key serves the one lookup it exists
 * for, the dedupe of a batch's ids within their site. Nothing is indexed by site alone, which would
 * be a row written per event: deleting a site (SQL only) walks the table.
 *
 * Readers that page through events order by `(ts, id)` (a lead's) or `(visitor_id, ts, id)` (a
 * visitor's anonymous ones), the order the two indexes below hold: `id` is unique within a site and
 * a lead or visitor belongs to one site, so each order is total; no column of it ever changes
 * (a visitor leaving its lead for another sets `lead_id` only), so a cursor taken from a row stays
 * where it was.
 */
export const events = sqliteTable(
  'events',
  {
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    /** The client-made id: the key within the site, so a batch sent twice is stored once. */
    id: text('id').notNull(),
    visitorId: text('visitor_id'),
    /**
     * The lead's, when its visitor was a lead's as it came. A visitor's events from before it
     * identified stay without one: they are its lead's by the visitor's link (`db/lead-events`), and
     * get the lead's id only if the visitor leaves that lead for another.
     */
    leadId: text('lead_id').references(() => leads.id, { onDelete: 'cascade' }),
    /**
     * Type, rule URL, content type and properties, in `event_shapes`. Not a foreign key: SQLite
     * would check every delete of a shape against an index on this column, one more index entry
     * written per event.
     */
    shapeId: integer('shape_id').notNull(),
    ts: integer('ts').notNull(),
    url: text('url'),
    title: text('title'),
    referrer: text('referrer'),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.id, t.siteId] }),
    // A lead's events in (time, id) order, covering for a recompute's (time, shape) pairs. Partial:
    // an anonymous event has no lead to be found by, and its entry here was a row written for
    // nothing (migration 0016); `lead_id = ?` and `lead_id IN (…)` imply the index's condition.
    index('events_lead_ts').on(t.leadId, t.ts, t.id, t.shapeId).where(sql`lead_id IS NOT NULL`),
    // A visitor's anonymous events in (time, id) order, covering for an erasure's question "does any
    // other anonymous event use this shape".
    index('events_site_visitor_anon').on(t.siteId, t.visitorId, t.ts, t.id, t.shapeId).where(sql`lead_id IS NULL`),
  ],
);

/** Every change of band, stage or exclusion, in the order written: the changes feed reads it. */
export const transitions = sqliteTable(
  'transitions',
  {
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    /** The site's own count of its changes: see `db/transition-seq`. */
    seq: integer('seq').notNull(),
    /** '' for the blank a lead's erasure leaves in place of the site's newest change (see `leads/erase`). */
    leadId: text('lead_id').notNull(),
    type: text('type').notNull(),
    fromValue: text('from_value'),
    toValue: text('to_value'),
    /** Why, in words: the exclusion reason for `lead.excluded`. */
    reason: text('reason'),
    /** The nurturing branch to run now, when the change names one. */
    branch: text('branch'),
    /** What caused it: `event`, `recompute`, `decay`, `sales`. */
    cause: text('cause').notNull(),
    at: integer('at').notNull(),
  },
  // WITHOUT ROWID, keyed by (site, seq) (migration 0019, by hand: drizzle-kit does not know it): the
  // row is the feed's entry, and each change is written as its row and one index entry.
  (t) => [
    primaryKey({ columns: [t.siteId, t.seq] }),
    // A lead's changes but its stage changes, which the stage index holds instead (see
    // `db/lead-transitions`): one index entry a change, where both indexes took a stage change.
    index('transitions_lead')
      .on(t.leadId, t.seq)
      .where(sql`type <> 'lead.stage_changed'`),
    // The model-quality report: who reached each stage, and when, and the few leads sales moved on,
    // read from this index alone instead of walking every lead (or the site's every change by key).
    // Stage changes are rare beside band changes, so it costs one entry per stage change and nothing
    // on the writes of scores.
    index('transitions_site_stage')
      .on(t.siteId, t.toValue, t.leadId, t.at)
      .where(sql`type = 'lead.stage_changed'`),
  ],
);

/**
 * Never holds a row: a write batch inserts into it only when a lead changed since it was read, and
 * the CHECK makes that insert fail, which rolls the whole batch back so the request is redone.
 */
export const writeConflicts = sqliteTable(
  'write_conflicts',
  { leadId: text('lead_id').notNull() },
  () => [check('write_conflict', sql`0`)],
);

/** A recomputation of every lead of a site after a model change, done in chunks by lead id. */
export const recomputes = sqliteTable(
  'recomputes',
  {
    id: text('id').primaryKey(),
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    modelVersion: integer('model_version').notNull(),
    /** `running`, `done`, or `superseded` when a newer model version started its own recompute. */
    status: text('status').notNull().default('running'),
    /** Last lead id done: leads are taken in id order, so the job resumes where it stopped. */
    cursor: text('cursor').notNull().default(''),
    total: integer('total').notNull(),
    processed: integer('processed').notNull().default(0),
    /** Leads whose band, stage or exclusion changed. */
    changed: integer('changed').notNull().default(0),
    /** A run owns the job until then; a crashed run's lease expires and the cron resumes the job. */
    leaseUntil: integer('lease_until'),
    startedAt: integer('started_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    finishedAt: integer('finished_at'),
  },
  (t) => [index('recomputes_site').on(t.siteId, t.startedAt), index('recomputes_status').on(t.status)],
);

/**
 * What sales said of a lead: fit (`good`, `bad`) and outcome (`won`, `lost`, `bad_fit`,
 * `not_reached`), kept as a history; the latest word counts (see `quality/outcomes`).
 */
export const feedback = sqliteTable(
  'feedback',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    leadId: text('lead_id')
      .notNull()
      .references(() => leads.id, { onDelete: 'cascade' }),
    fit: text('fit'),
    outcome: text('outcome'),
    note: text('note'),
    createdAt: integer('created_at').notNull(),
    createdBy: text('created_by'),
  },
  (t) => [
    index('feedback_lead').on(t.leadId, t.seq),
    // The model-quality report reads a site's feedback (few rows) without walking its leads.
    index('feedback_site').on(t.siteId, t.seq),
  ],
);

/**
 * A nurturing tool's subscription to changes (a REST hook). The transitions table is the outbox:
 * the dispatcher turns every transition after `cursor` into deliveries, and moves the cursor in the
 * same batch, so a change is fanned out once and never lost to a restart.
 */
export const webhooks = sqliteTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    /** Change types delivered: `lead.band_changed`, `lead.stage_changed`, … */
    types: text('types', { mode: 'json' }).$type<string[]>().notNull(),
    /** Only changes into, out of or within this band, when set. */
    band: text('band'),
    /** `whsec_…`: kept as is, since signing needs it; shown once, at creation. */
    secret: text('secret').notNull(),
    /** Last transition seq fanned out; a new subscription starts at the site's latest. */
    cursor: integer('cursor').notNull(),
    createdAt: integer('created_at').notNull(),
    /** When the run of failed attempts began; null once an attempt succeeds. */
    failingSince: integer('failing_since'),
    disabledAt: integer('disabled_at'),
    disabledReason: text('disabled_reason'),
  },
  (t) => [index('webhooks_site').on(t.siteId)],
);

/** One change to deliver to one subscription: its id is the `webhook-id` of every attempt. */
export const deliveries = sqliteTable(
  'deliveries',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    id: text('id').notNull().unique(),
    webhookId: text('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    siteId: text('site_id').notNull(),
    leadId: text('lead_id'),
    transitionSeq: integer('transition_seq').notNull(),
    type: text('type').notNull(),
    /** The signed body, fixed at fan-out: every attempt sends the same bytes. */
    payload: text('payload').notNull(),
    /** `pending`, `delivered`, or `failed` once every retry is spent. */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at'),
    /** A dispatcher that claimed it sends it until then; after, another may. */
    leaseUntil: integer('lease_until'),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [
    uniqueIndex('deliveries_webhook_transition').on(t.webhookId, t.transitionSeq),
    index('deliveries_due').on(t.nextAttemptAt).where(sql`status = 'pending'`),
    // The head of each lead's queue: a later change waits until the earlier one is through.
    index('deliveries_pending_lead').on(t.webhookId, t.leadId, t.seq).where(sql`status = 'pending'`),
  ],
);

/** Every attempt of every delivery, as the delivery log shows it. */
export const deliveryAttempts = sqliteTable(
  'delivery_attempts',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => deliveries.id, { onDelete: 'cascade' }),
    at: integer('at').notNull(),
    /** The receiver's HTTP status; null when no answer came (network error, timeout). */
    status: integer('status'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
  },
  (t) => [index('delivery_attempts_delivery').on(t.deliveryId, t.seq)],
);

/** A band's nurturing branch run for its members, once per Idempotency-Key. */
export const triggers = sqliteTable(
  'triggers',
  {
    id: text('id').primaryKey(),
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    idempotencyKey: text('idempotency_key').notNull(),
    band: text('band').notNull(),
    branch: text('branch').notNull(),
    count: integer('count').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('triggers_site_key').on(t.siteId, t.idempotencyKey)],
);

/** A site's segment counters, as `segment_histograms.counts` holds them. */
export interface SegmentHistogram {
  /** Leads per band, '' for the excluded. */
  band: Record<string, number>;
}

/**
 * Counters of a site's leads per band, one JSON row a site, kept up to date in the same batch as
 * every lead write, so the segments view reads one row instead of counting every lead, and a lead
 * that changes band writes that one row (a row a counter wrote two, four on a band change). The
 * daily snapshot recounts them exactly, which heals any drift. The table's name is from when the
 * row held the score histogram too, which is now recounted when looked at (`segments/histogram`).
 * `WITHOUT ROWID` (migration 0015; drizzle-kit does not know it): its first write is one row too.
 */
export const segmentHistograms = sqliteTable('segment_histograms', {
  siteId: text('site_id')
    .primaryKey()
    .references(() => sites.id, { onDelete: 'cascade' }),
  counts: text('counts', { mode: 'json' }).$type<SegmentHistogram>().notNull(),
});

/** Leads per band at the end of each day (UTC), for the 30-day chart and "since yesterday". */
export const bandDaily = sqliteTable(
  'band_daily',
  {
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    /** `YYYY-MM-DD`, UTC. */
    day: text('day').notNull(),
    /** '' for the excluded. */
    band: text('band').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.siteId, t.day, t.band] })],
);

/**
 * Secrets the worker makes for itself when the operator configured none: today the key that signs
 * dashboard sessions when `SESSION_SECRET` is unset. Made once, by whichever request comes first.
 */
export const workerSecrets = sqliteTable('worker_secrets', {
  name: text('name').primaryKey(),
  /** Base64 random bytes. */
  value: text('value').notNull(),
  createdAt: integer('created_at').notNull().default(now),
});

/** Requests and events from robots (see `ingest/bots.ts`), per site and UTC day: counted, not scored. */
export const robotDaily = sqliteTable(
  'robot_daily',
  {
    siteId: text('site_id').notNull().references(() => sites.id, { onDelete: 'cascade' }),
    /** `YYYY-MM-DD`, UTC. */
    day: text('day').notNull(),
    requests: integer('requests').notNull(),
    events: integer('events').notNull(),
  },
  (t) => [primaryKey({ columns: [t.siteId, t.day] })],
);
