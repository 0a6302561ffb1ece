/**
 * @module What the routes answer, as zod schemas, for the OpenAPI document only: the routes build
 * their JSON directly and never parse it. test/worker/openapi.test.ts parses real answers with
 * these, so that a field added, removed or retyped in a route fails there rather than drifting.
 *
 * Plain `z.object`s: the document must not forbid fields a later version adds to an answer.
 */
import { z } from 'zod';
import { CHANGE_TYPES, ChangeItem } from '../changes/item';
import { SalesUpdate } from '../leads/sales';
import { Dimension, Model, Stage } from '../scoring/model';

const Issue = z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() });

/** Every 4xx and 5xx: see lib/errors.ts. */
export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), issues: z.array(Issue).optional() }),
});

/** ms since the epoch. */
const Time = z.number().int();

export const IngestAnswer = z.object({
  accepted: z.array(z.string()),
  duplicates: z.array(z.string()),
  rejected: z.array(
    z.object({ index: z.number().int(), id: z.string().optional(), code: z.string(), message: z.string(), issues: z.array(Issue).optional() }),
  ),
  /**
   * Only when robots sent some: every valid event when the user agent is a robot's, or a visitor's
   * whose pace gave it away (see `ingest/pace.ts`). Counted per day, not stored, not scored.
   */
  robot: z.object({ ignored: z.array(z.string()) }).optional(),
  /**
   * Only on the queue path (an `EVENTS` queue bound): the events are taken and will be scored
   * within seconds; `accepted` then lists every valid event, duplicates included.
   */
  queued: z.literal(true).optional(),
});

export const BandsAnswer = z.object({
  bands: z.array(
    z.object({
      name: z.string(),
      min: z.number(),
      /** null for the top band. */
      max: z.number().nullable(),
      branch: z.string(),
      description: z.string().nullable(),
      count: z.number().int(),
      /** At the end of yesterday (UTC); null before the first daily snapshot. */
      yesterday: z.number().int().nullable(),
    }),
  ),
  excluded: z.object({ count: z.number().int(), yesterday: z.number().int().nullable() }),
  total: z.number().int(),
});

export const SegmentStats = z.object({
  /** Points per histogram bucket. */
  bucket: z.number().int(),
  bounds: z.array(z.object({ band: z.string(), min: z.number() })),
  /**
   * Leads in a band per score bucket, `min` its lower bound; empty buckets left out. Recounted when
   * looked at once older than 5 s, or 1 s per 10,000 leads it counted: it lags the band counts by
   * up to that much.
   */
  histogram: z.array(z.object({ min: z.number(), count: z.number().int() })),
  /** When `histogram` was counted. */
  countedAt: Time,
  /** Leads per band (and `excluded`) at the end of each day, oldest first, today as it is now. */
  history: z.array(z.object({ day: z.string(), bands: z.record(z.string(), z.number().int()) })),
  /** Requests and events from robots per day, counted apart and never scored; days without any left out. */
  robots: z.array(z.object({ day: z.string(), requests: z.number().int(), events: z.number().int() })),
});

export const LeadSummary = z.object({
  id: z.string(),
  email: z.string(),
  profile: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  scores: z.object({ fit: z.number(), activity: z.number(), engagement: z.number() }),
  score: z.number(),
  band: z.string().nullable(),
  stage: Stage,
  excluded: z.object({ reason: z.string() }).nullable(),
  lastEventAt: Time.nullable(),
  recycledAt: Time.nullable(),
  scoredAt: Time.nullable(),
  createdAt: Time,
  updatedAt: Time,
});

export const LeadList = z.object({ leads: z.array(LeadSummary), nextCursor: z.string().nullable() });

const feedbackGiven = SalesUpdate.shape.feedback.unwrap().shape;

export const LeadDetail = LeadSummary.extend({
  modelVersion: z.number().int(),
  breakdown: z.array(
    z.object({
      ruleId: z.string(),
      kind: z.enum(['behaviour', 'profile']),
      label: z.string(),
      dimension: Dimension,
      points: z.number(),
      count: z.number().int(),
    }),
  ),
  feedback: z.array(
    z.object({
      fit: feedbackGiven.fit.unwrap().nullable(),
      outcome: feedbackGiven.outcome.unwrap().nullable(),
      note: z.string().nullable(),
      at: Time,
    }),
  ),
  /** Newest first. */
  timeline: z.array(
    z.discriminatedUnion('kind', [
      z.object({
        kind: z.literal('event'),
        id: z.string(),
        type: z.string(),
        ts: Time,
        url: z.string().nullable(),
        title: z.string().nullable(),
        contentType: z.string().nullable(),
        score: z.number().nullable(),
        delta: z.number().nullable(),
      }),
      z.object({
        kind: z.literal('transition'),
        type: z.string(),
        from: z.string().nullable(),
        to: z.string().nullable(),
        reason: z.string().nullable(),
        branch: z.string().nullable(),
        cause: z.string(),
        at: Time,
      }),
    ]),
  ),
});

export const ModelAnswer = z.object({ version: z.number().int(), model: Model });

export const ModelVersions = z.object({
  current: z.number().int(),
  /** Newest first; the last is version 0, the built-in default. */
  versions: z.array(
    z.object({ version: z.number().int(), createdAt: Time.nullable(), createdBy: z.string().nullable(), builtIn: z.literal(true).optional() }),
  ),
});

export const Recompute = z.object({
  id: z.string(),
  modelVersion: z.number().int(),
  status: z.enum(['running', 'done', 'superseded']),
  total: z.number().int(),
  processed: z.number().int(),
  changed: z.number().int(),
  startedAt: Time,
  updatedAt: Time,
  finishedAt: Time.nullable(),
});

export const LatestRecompute = z.object({ recompute: Recompute.nullable() });
export const OneRecompute = z.object({ recompute: Recompute });

export const ModelSaved = z.object({
  version: z.number().int(),
  createdAt: Time,
  restoredFrom: z.number().int().optional(),
  model: Model,
  recompute: Recompute,
});

export const PreviewAnswer = z.object({
  leads: z.number().int(),
  /** Leads per band, and `excluded`, with the current model and with the candidate. */
  before: z.record(z.string(), z.number().int()),
  after: z.record(z.string(), z.number().int()),
  moved: z.number().int(),
  moves: z.array(z.object({ from: z.string(), to: z.string(), count: z.number().int() })),
  sample: z.array(
    z.object({ id: z.string(), email: z.string(), from: z.string(), to: z.string(), scoreBefore: z.number(), scoreAfter: z.number() }),
  ),
});

/** The document describes itself loosely: its own schema is the OpenAPI specification's. */
export const OpenApiDocument = z.object({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }) });

export const ChangesPage = z.object({ items: z.array(ChangeItem), nextCursor: z.string(), hasMore: z.boolean() });

export const BandMembers = z.object({ band: z.string(), members: z.array(LeadSummary), nextCursor: z.string().nullable() });

export const TriggerAnswer = z.object({
  trigger: z.object({ id: z.string(), band: z.string(), branch: z.string(), count: z.number().int(), createdAt: Time }),
  /** True when the Idempotency-Key had been used: the first trigger, nothing written again. */
  replayed: z.boolean(),
});

export const Webhook = z.object({
  id: z.string(),
  url: z.string(),
  types: z.array(z.enum(CHANGE_TYPES)),
  band: z.string().nullable(),
  status: z.enum(['active', 'failing', 'disabled']),
  failingSince: Time.nullable(),
  disabledAt: Time.nullable(),
  disabledReason: z.string().nullable(),
  createdAt: Time,
});
export const WebhookCreated = z.object({ webhook: Webhook.extend({ secret: z.string() }) });
export const WebhookList = z.object({ webhooks: z.array(Webhook) });
export const Unsubscribed = z.object({ deleted: z.array(z.string()).describe('the ids of the subscriptions deleted; none is not an error') });
export const WebhookDetail = z.object({
  webhook: Webhook.extend({ deliveries: z.object({ pending: z.number().int(), delivered: z.number().int(), failed: z.number().int() }) }),
});
export const DeliveryLog = z.object({
  deliveries: z.array(
    z.object({
      id: z.string(),
      changeId: z.string(),
      type: z.enum(CHANGE_TYPES),
      leadId: z.string().nullable(),
      status: z.enum(['pending', 'delivered', 'failed']),
      attempts: z.number().int(),
      nextAttemptAt: Time.nullable(),
      lastStatus: z.number().int().nullable(),
      lastError: z.string().nullable(),
      createdAt: Time,
      deliveredAt: Time.nullable(),
      payload: z.object({ type: z.enum(CHANGE_TYPES), timestamp: z.string(), data: ChangeItem }),
      log: z.array(z.object({ at: Time, status: z.number().int().nullable(), error: z.string().nullable(), durationMs: z.number().int() })),
    }),
  ),
  nextCursor: z.string().nullable(),
});

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** `GET /v1/leads/{id}/export`: everything held about one lead; `events` come last, streamed. */
export const LeadExport = z.object({
  exportedAt: Time,
  lead: LeadSummary.extend({
    modelVersion: z.number().int(),
    eventCount: z.number().int(),
    /** When the decay job next looks at the lead: never after decay next moves its band or stage, maybe before. */
    nextChangeAt: Time.nullable(),
  }),
  /** The browsers that identified as the lead. */
  visitors: z.array(z.object({ id: z.string(), firstSeen: Time, lastSeen: Time })),
  /** Oldest first; `id` is the change's id in the feed. */
  transitions: z.array(
    z.object({
      id: z.string(),
      type: z.enum(CHANGE_TYPES),
      from: z.string().nullable(),
      to: z.string().nullable(),
      reason: z.string().nullable(),
      branch: z.string().nullable(),
      cause: z.string(),
      at: Time,
    }),
  ),
  /** Oldest first; `by` is the API key id that gave it. */
  feedback: z.array(
    z.object({
      fit: feedbackGiven.fit.unwrap().nullable(),
      outcome: feedbackGiven.outcome.unwrap().nullable(),
      note: z.string().nullable(),
      at: Time,
      by: z.string().nullable(),
    }),
  ),
  /** Every webhook delivery of the lead's changes, with its payload and attempts, oldest first. */
  deliveries: z.array(DeliveryLog.shape.deliveries.element.extend({ webhookId: z.string() })),
  /** Events counted when the export began. */
  eventCount: z.number().int(),
  /**
   * Those stored with the lead's id by time, then those its visitors sent before they identified,
   * by visitor and time; `leadId` is the lead's for all.
   */
  events: z.array(
    z.object({
      id: z.string(),
      type: z.string(),
      ts: Time,
      visitor: z.string().nullable(),
      leadId: z.string(),
      url: z.string().nullable(),
      title: z.string().nullable(),
      referrer: z.string().nullable(),
      contentType: z.string().nullable(),
      props: z.record(z.string(), Scalar).nullable(),
      receivedAt: Time,
    }),
  ),
});

export const RetryAnswer = z.object({ delivery: z.object({ id: z.string(), status: z.string() }) });

/** A secret API key as listed: never its hash, never the key itself. */
export const ApiKey = z.object({
  id: z.string(),
  name: z.string(),
  /** The key's first characters (`sk_` and 7 more), to tell keys apart. */
  prefix: z.string(),
  createdAt: Time,
  revokedAt: Time.nullable(),
  /** The key this request was authenticated with (by bearer, or the dashboard session's key). */
  current: z.boolean(),
});
export const ApiKeyList = z.object({ apiKeys: z.array(ApiKey) });
/** `key`, `sk_…`, is in this answer and nowhere else, ever. */
export const ApiKeyCreated = z.object({ apiKey: ApiKey.extend({ key: z.string() }) });
export const ApiKeyRotated = ApiKeyCreated.extend({ revoked: ApiKey });
export const ApiKeyRevoked = z.object({ apiKey: ApiKey });

/** A share with its 95% Wilson interval; `rate`, `low` and `high` are null when `n` is 0. */
const Proportion = z.object({ k: z.number().int(), n: z.number().int(), rate: z.number().nullable(), low: z.number().nullable(), high: z.number().nullable() });
const Conversions = z.object({ leads: z.number().int(), reached: z.object({ sql: Proportion, opportunity: Proportion, customer: Proportion }) });

export const RuleEvidence = z.object({
  ruleId: z.string(),
  kind: z.enum(['behaviour', 'profile']),
  label: z.string(),
  points: z.number(),
  /** Share of the won leads the rule fired for (as they stood when decided). */
  firedWon: Proportion,
  /** Share of the lost and bad-fit leads it fired for. */
  firedLost: Proportion,
  /** firedWon / firedLost; null when it never fired for a lost lead. */
  lift: z.number().nullable(),
  /** Of the decided leads it fired for, the share won. */
  wonWhenFired: Proportion,
});

export const QualityReport = z.object({
  modelVersion: z.number().int(),
  leads: z.number().int(),
  /** Leads per latest outcome, among those sales touched. */
  outcomes: z.object({ won: z.number().int(), lost: z.number().int(), bad_fit: z.number().int(), not_reached: z.number().int() }),
  /** Per band now (the current model's verdict), and `excluded`. */
  bands: z.array(Conversions.extend({ band: z.string() })),
  /** Per stage: the leads that reached it (or a later one), and how many went on. */
  stages: z.array(Conversions.extend({ stage: Stage })),
  mqlToSql: z.object({ leads: z.number().int(), medianMs: z.number().nullable() }),
  /** Leads in the top band or at MQL and beyond, touched by sales, that sales marked bad fit. */
  falsePositives: Proportion.extend({
    topBand: z.string(),
    sample: z.array(z.object({ id: z.string(), email: z.string(), band: z.string().nullable(), stage: Stage })),
  }),
  /** Leads won, and lost or bad fit, that the rules are judged on. */
  decided: z.object({ won: z.number().int(), lost: z.number().int() }),
  rules: z.array(RuleEvidence),
  /** More leads were touched than are read: the oldest decisions were left out. */
  truncated: z.boolean(),
});

const BacktestSide = z.object({ auc: z.number().nullable(), meanWon: z.number().nullable(), meanLost: z.number().nullable() });
const BacktestResult = z.object({ won: z.number().int(), lost: z.number().int(), current: BacktestSide, candidate: BacktestSide });

export const BacktestAnswer = BacktestResult.extend({ modelVersion: z.number().int(), message: z.string(), truncated: z.boolean() });

export const SuggestionAnswer = z.object({
  modelVersion: z.number().int(),
  /** False when there are too few outcomes: `message` says how many more, and nothing else is given. */
  enough: z.boolean(),
  won: z.number().int(),
  lost: z.number().int(),
  needed: z.object({ won: z.number().int(), lost: z.number().int() }),
  message: z.string(),
  /** Points per unit of log-odds. */
  scale: z.number().optional(),
  rules: z
    .array(RuleEvidence.extend({ weight: z.number().nullable(), suggested: z.number(), kept: z.string().nullable() }))
    .optional(),
  /** The candidate: the current model with the suggested points, ready for `POST /v1/model/preview` and `PUT /v1/model`. */
  model: Model.optional(),
  backtest: BacktestResult.optional(),
  /**
   * The suggestion learnt again without each fold of the decided leads and scored on that fold: its
   * AUC on leads it did not learn from, the current model's on the same folds (means of the folds).
   */
  heldOut: z.object({ folds: z.number().int(), current: z.number().nullable(), candidate: z.number().nullable() }).optional(),
  truncated: z.boolean(),
});
