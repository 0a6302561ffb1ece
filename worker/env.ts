/** @module The worker's environment, typed once: `Hono<AppEnv>` everywhere, no casts of `c.env`. */
import type { D1Meter } from './db/metering';
import type { EventsMessage } from './ingest/event-queue';
import type { VisitorIngest } from './ingest/visitor-object';
import type { JobMessage } from './jobs/queue';
import type { Model } from './scoring/model';

export interface Bindings {
  DB: D1Database;
  /** Continues long jobs (recomputes) slice after slice: see `jobs/queue.ts`. */
  JOBS: Queue<JobMessage>;
  /** Bound, collect answers once the events are queued and scores them in batches: see `ingest/event-queue.ts`. */
  EVENTS?: Queue<EventsMessage>;
  /**
   * Bound, a browser's collect request is ingested by its visitor's Durable Object, which recalls
   * what the visitor's last request wrote wherever this one landed: see `ingest/visitor-object.ts`.
   */
  VISITOR_INGEST?: DurableObjectNamespace<VisitorIngest>;
  /** Secret that unlocks `/admin` (creating sites and keys); unset, `/admin` does not exist. */
  ADMIN_TOKEN?: string;
  /**
   * Secret that signs dashboard sessions (32 characters or more); unset, the worker makes one and
   * keeps it in D1. Changing it ends every session.
   */
  SESSION_SECRET?: string;
  /** Requests per client address (see `limits/rate-limits.ts`); unbound, no limit. */
  RATE_LIMIT_IP?: RateLimit;
  /** Collect requests per site key; unbound, no limit. */
  RATE_LIMIT_SITE?: RateLimit;
  /** `off` lifts both limits: for load benchmarks on a local worker, never for a public one. */
  RATE_LIMITS?: string;
  /** `on` answers each collect request with the D1 rows it read and wrote (`bench/cost.js`): see `db/metering.ts`. */
  D1_METERING?: string;
  /**
   * `off`: every ingest reads before it writes, as an isolate that recalls nothing does (see
   * `ingest/recall.ts`); `bench/cost.js` measures both ways.
   */
  INGEST_RECALL?: string;
  /** Extra paths the snippet is served under (comma-separated), out of reach of ad-block lists. */
  SNIPPET_ALIASES?: string;
  /** Extra paths that accept collect requests (comma-separated); the first is baked into the snippet. */
  COLLECT_ALIASES?: string;
}

/** The site an authenticated request acts for, with its current scoring model. */
export interface SiteContext {
  id: string;
  name: string;
  siteKey: string;
  origins: string[];
  model: Model;
  modelVersion: number;
  /** An enabled webhook listens: changes are worth dispatching at once (see `dispatchSoon`). */
  hasWebhooks: boolean;
}

export interface AppEnv {
  Bindings: Bindings;
  /** `d1Meter`: the request's D1 statements as `meterD1` counts them, when metered. */
  Variables: { site: SiteContext; apiKeyId: string; d1Meter?: D1Meter };
}
