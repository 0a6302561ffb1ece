/**
 * @module The dashboard's only door to the server: same origin, the session cookie, typed answers.
 *
 * Failures of every kind become an `ApiError` carrying the server's own message, so that views can
 * show it as is. An aborted request (the user navigated away) is rethrown untouched: callers
 * recognise it with `isAbort` and drop it silently.
 */

// Types only, erased from the bundle: the dashboard reads what the engine writes, named once.
import type { Dimension, Stage } from '../../worker/scoring/model';
import type { BreakdownItem } from '../../worker/scoring/types';
import type { CurrentModel, ModelPreview, ModelVersions, Recompute, SavedModel } from './model-types';
import type { QualityReport, Suggestion } from './quality-types';

export type { BreakdownItem, Dimension, Stage };

export const DIMENSIONS = ['fit', 'activity', 'engagement'] as const satisfies readonly Dimension[];

export interface Band {
  name: string;
  min: number;
  /** The next band's `min`; null for the top band. */
  max: number | null;
  branch: string;
  description: string | null;
  count: number;
  /** At the end of yesterday (UTC); null before the first daily snapshot. */
  yesterday: number | null;
}

export interface BandsResponse {
  bands: Band[];
  excluded: { count: number; yesterday: number | null };
  total: number;
}

/** What the API calls the leads in no band, beside the bands' names (stats, previews, quality). */
export const EXCLUDED = 'excluded';

export interface SegmentStats {
  /** Points per histogram bucket. */
  bucket: number;
  bounds: { band: string; min: number }[];
  histogram: { min: number; count: number }[];
  /** When `histogram` was counted: it is recounted every few seconds, not at each score change. */
  countedAt: number;
  history: { day: string; bands: Record<string, number> }[];
  /** Robots' requests and events per day: counted apart, never scored. */
  robots: { day: string; requests: number; events: number }[];
}

/** Known profile properties plus anything custom a form sent: every value is untrusted. */
export type Profile = Readonly<Record<string, unknown>>;

export interface LeadSummary {
  id: string;
  email: string;
  profile: Profile;
  scores: Record<Dimension, number>;
  score: number;
  band: string | null;
  stage: Stage;
  excluded: { reason: string } | null;
  lastEventAt: number | null;
  updatedAt: number;
}

export interface LeadPage {
  leads: LeadSummary[];
  nextCursor: string | null;
}

export interface TimelineEvent {
  kind: 'event';
  id: string;
  type: string;
  ts: number;
  url: string | null;
  title: string | null;
  contentType: string | null;
}

export interface TimelineTransition {
  kind: 'transition';
  type: 'lead.band_changed' | 'lead.stage_changed' | 'lead.excluded' | 'lead.included' | string;
  from: string | null;
  to: string | null;
  branch: string | null;
  /** Sent by the worker although not (yet) in the brief: the exclusion reason, and what caused it. */
  reason?: string | null;
  cause?: string | null;
  at: number;
}

export type TimelineItem = TimelineEvent | TimelineTransition;

/** How a lead ended, as sales say: `bad_fit` and `lost` count against it, `not_reached` says nothing. */
export type Outcome = 'won' | 'lost' | 'bad_fit' | 'not_reached';

export interface Feedback {
  fit: 'good' | 'bad' | null;
  outcome: Outcome | null;
  note: string | null;
  at: number;
}

export interface LeadDetail extends LeadSummary {
  breakdown: BreakdownItem[];
  timeline: TimelineItem[];
  feedback: Feedback[];
}

/** What sales may change on a lead: `PATCH /v1/leads/{id}`. */
export interface SalesUpdate {
  stage?: 'sql' | 'opportunity' | 'customer' | 'recycled';
  feedback?: { fit?: 'good' | 'bad'; outcome?: Outcome; note?: string };
}

export interface LeadQuery {
  band?: string;
  excluded?: boolean;
  stage?: Stage;
  q?: string;
  limit?: number;
  cursor?: string;
}

export interface MembersPage {
  band: string;
  members: LeadSummary[];
  nextCursor: string | null;
}

export interface Trigger {
  id: string;
  band: string;
  branch: string;
  /** How many members the branch ran for: the band's members when the trigger was written. */
  count: number;
  createdAt: number;
}

export interface TriggerResult {
  trigger: Trigger;
  /** True when the Idempotency-Key had already triggered: nothing new was written. */
  replayed: boolean;
}

/** What a webhook can subscribe to (the worker's `CHANGE_TYPES`, repeated: the bundle has no zod). */
export const CHANGE_TYPES = ['lead.band_changed', 'lead.stage_changed', 'lead.excluded', 'lead.included', 'branch.triggered'] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

export type WebhookStatus = 'active' | 'failing' | 'disabled';

export interface Webhook {
  id: string;
  url: string;
  types: string[];
  band: string | null;
  status: WebhookStatus | string;
  failingSince: number | null;
  disabledAt: number | null;
  disabledReason: string | null;
  createdAt: number;
}

export interface WebhookDetail extends Webhook {
  deliveries: Record<DeliveryStatus, number>;
}

export interface WebhookInput {
  url: string;
  types: ChangeType[];
  band?: string;
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface DeliveryAttempt {
  at: number;
  /** The HTTP status answered; null when there was no answer (timeout, refused connection). */
  status: number | null;
  error: string | null;
  durationMs: number | null;
}

export interface Delivery {
  id: string;
  changeId: string;
  type: string;
  leadId: string | null;
  status: DeliveryStatus | string;
  /** Attempts since the delivery was created or last retried by hand. */
  attempts: number;
  nextAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
  payload: unknown;
  /** The latest attempts (at most 10), newest first. */
  log: DeliveryAttempt[];
}

export interface DeliveryPage {
  deliveries: Delivery[];
  nextCursor: string | null;
}

export interface PageQuery {
  limit?: number;
  cursor?: string | null;
}

export interface ApiIssue {
  path?: (string | number)[];
  message?: string;
}

/** An error to show: `status` 0 means the server could not be reached at all. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: readonly ApiIssue[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isUnauthorized = (err: unknown): err is ApiError => err instanceof ApiError && err.status === 401;

export const isAbort = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The server's `{"error": {"code", "message", "issues"}}`, or a generic error when the body is not that. */
function errorFrom(status: number, body: unknown): ApiError {
  const e = isRecord(body) ? body['error'] : undefined;
  if (isRecord(e) && typeof e['message'] === 'string') {
    const code = typeof e['code'] === 'string' ? e['code'] : 'error';
    const issues = Array.isArray(e['issues']) ? (e['issues'].filter(isRecord) as ApiIssue[]) : [];
    return new ApiError(status, code, e['message'], issues);
  }
  return new ApiError(status, 'http_error', `the server answered ${status}`);
}

/**
 * A light shape check: the views trust field types, so an answer that is not the expected kind of
 * object (an HTML error page from a proxy, say) is reported instead of rendered.
 */
function expect<T>(body: unknown, ok: (b: Record<string, unknown>) => boolean, status: number): T {
  if (isRecord(body) && ok(body)) return body as T;
  throw new ApiError(status, 'bad_response', 'the server sent an answer the dashboard does not understand');
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * One path segment from a value that may come from the URL hash or the API: "." and ".." would
 * survive encodeURIComponent and be resolved as path segments, turning the request into one for
 * another route.
 */
function segment(value: string, notFound: ApiError): string {
  if (value === '' || /^\.+$/.test(value)) throw notFound;
  return encodeURIComponent(value);
}

function pageParams(query: PageQuery, params = new URLSearchParams()): string {
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  if (query.cursor) params.set('cursor', query.cursor);
  const s = params.toString();
  return s ? `?${s}` : '';
}

const isRecompute = (v: unknown): v is Recompute =>
  isRecord(v) && typeof v['id'] === 'string' && typeof v['status'] === 'string' && typeof v['processed'] === 'number';

const isSavedModel = (b: Record<string, unknown>): boolean =>
  typeof b['version'] === 'number' && isRecord(b['model']) && isRecompute(b['recompute']);

/** A successful answer: `body` is the parsed JSON (null for a 204), still to be shape-checked. */
export interface ApiResponse {
  status: number;
  body: unknown;
}

/** Who a dashboard session signs in. */
export interface SessionSite {
  id: string;
  name: string;
}

interface RequestOptions {
  body?: unknown;
  csrfToken?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

/**
 * Every request the dashboard makes: same origin, the session cookie (which page script can neither
 * read nor send anywhere else), JSON both ways.
 */
/** How long a read may take before it is given up (see `request`). */
export const READ_TIMEOUT_MS = 15_000;

/** Aborted when any of `signals` is: `AbortSignal.any` where the browser has it. */
function anySignal(signals: AbortSignal[]): AbortSignal {
  if (typeof AbortSignal.any === 'function') return AbortSignal.any(signals);
  const out = new AbortController();
  for (const s of signals) {
    if (s.aborted) out.abort(s.reason);
    else s.addEventListener('abort', () => out.abort(s.reason), { once: true });
  }
  return out.signal;
}

async function request(method: Method, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  // The server refuses any cookie-authenticated write without it: the proof that this page, and not
  // another site, made the request.
  if (method !== 'GET' && opts.csrfToken !== undefined) headers['X-CSRF-Token'] = opts.csrfToken;
  let res: Response;
  // A read that hangs (a connection lost on the way) gives up after a while, so that the view can
  // say so and ask again; a write is left to finish, as whether it landed would not be known.
  const timeout = method === 'GET' ? AbortSignal.timeout(READ_TIMEOUT_MS) : undefined;
  const signal = timeout && opts.signal ? anySignal([opts.signal, timeout]) : (timeout ?? opts.signal);
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      cache: 'no-store',
      credentials: 'same-origin',
      signal,
    });
  } catch (err) {
    if (isAbort(err)) throw err;
    if (timeout?.aborted) throw new ApiError(0, 'timeout', `the server did not answer within ${READ_TIMEOUT_MS / 1000} s`);
    throw new ApiError(0, 'network_error', 'could not reach the server; check your connection');
  }
  let body: unknown = null;
  if (res.status !== 204) {
    try {
      body = await res.json();
    } catch (err) {
      if (isAbort(err)) throw err;
      body = null;
    }
  }
  if (!res.ok) throw errorFrom(res.status, body);
  return { status: res.status, body };
}

function sessionFrom({ status, body }: ApiResponse): { site: SessionSite; csrfToken: string } {
  return expect<{ site: SessionSite; csrfToken: string }>(
    body,
    (b) => isRecord(b['site']) && typeof b['site']['id'] === 'string' && typeof b['csrfToken'] === 'string',
    status,
  );
}

/**
 * The signed-in dashboard's door to the server. Made by signing in (`Api.signIn`) or by finding the
 * session of an earlier sign-in (`Api.resume`); the API key itself is never kept, and the CSRF token
 * only here, in memory.
 *
 * Views call the typed methods (`bands`, `leads`, `lead`); new ones are written on `get`, `post`,
 * `put`, `patch` and `delete`, which all go through `send`.
 */
export class Api {
  private constructor(
    readonly site: SessionSite,
    private readonly csrfToken: string,
  ) {}

  /** Trades the key for a session cookie. */
  static async signIn(apiKey: string, signal?: AbortSignal): Promise<Api> {
    const { site, csrfToken } = sessionFrom(await request('POST', '/dashboard/session', { body: { apiKey }, signal }));
    return new Api(site, csrfToken);
  }

  /** The session of an earlier sign-in, after a reload; null when there is none. */
  static async resume(signal?: AbortSignal): Promise<Api | null> {
    try {
      const { site, csrfToken } = sessionFrom(await request('GET', '/dashboard/session', { signal }));
      return new Api(site, csrfToken);
    } catch (err) {
      if (isUnauthorized(err)) return null;
      throw err;
    }
  }

  /** Ends the session: the server clears the cookie. */
  async signOut(): Promise<void> {
    await this.send('DELETE', '/dashboard/session');
  }

  get(path: string, signal?: AbortSignal): Promise<ApiResponse> {
    return this.send('GET', path, undefined, signal);
  }

  post(path: string, body?: unknown, signal?: AbortSignal): Promise<ApiResponse> {
    return this.send('POST', path, body, signal);
  }

  put(path: string, body: unknown, signal?: AbortSignal): Promise<ApiResponse> {
    return this.send('PUT', path, body, signal);
  }

  patch(path: string, body: unknown, signal?: AbortSignal): Promise<ApiResponse> {
    return this.send('PATCH', path, body, signal);
  }

  delete(path: string, signal?: AbortSignal): Promise<ApiResponse> {
    return this.send('DELETE', path, undefined, signal);
  }

  private send(method: Method, path: string, body?: unknown, signal?: AbortSignal, headers?: Record<string, string>): Promise<ApiResponse> {
    return request(method, path, { body, csrfToken: this.csrfToken, signal, ...(headers ? { headers } : {}) });
  }

  async bands(signal?: AbortSignal): Promise<BandsResponse> {
    const { status, body } = await this.get('/v1/bands', signal);
    return expect<BandsResponse>(body, (b) => Array.isArray(b['bands']) && isRecord(b['excluded']), status);
  }

  async stats(signal?: AbortSignal): Promise<SegmentStats> {
    const { status, body } = await this.get('/v1/bands/stats', signal);
    return expect<SegmentStats>(body, (b) => Array.isArray(b['histogram']) && Array.isArray(b['history']), status);
  }

  async leads(query: LeadQuery, signal?: AbortSignal): Promise<LeadPage> {
    const params = new URLSearchParams();
    if (query.band !== undefined) params.set('band', query.band);
    if (query.excluded !== undefined) params.set('excluded', String(query.excluded));
    if (query.stage !== undefined) params.set('stage', query.stage);
    if (query.q) params.set('q', query.q);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor) params.set('cursor', query.cursor);
    const { status, body } = await this.get(`/v1/leads?${params.toString()}`, signal);
    return expect<LeadPage>(body, (b) => Array.isArray(b['leads']), status);
  }

  /** `PATCH /v1/leads/{id}`: sales' stage change or feedback. */
  async updateLead(id: string, body: SalesUpdate): Promise<void> {
    await this.patch(`/v1/leads/${encodeURIComponent(id)}`, body);
  }

  async lead(id: string, signal?: AbortSignal): Promise<LeadDetail> {
    // The id comes from the URL hash: "." and ".." would survive encodeURIComponent and be resolved
    // as path segments, turning the request into one for another route.
    if (id === '' || /^\.+$/.test(id)) throw new ApiError(404, 'lead_not_found', 'there is no such lead');
    const { status, body } = await this.get(`/v1/leads/${encodeURIComponent(id)}`, signal);
    return expect<LeadDetail>(
      body,
      (b) => typeof b['id'] === 'string' && Array.isArray(b['breakdown']) && Array.isArray(b['timeline']),
      status,
    );
  }

  // ---- The scoring model (`#model`): types in model-types.ts ----

  async model(signal?: AbortSignal): Promise<CurrentModel> {
    const { status, body } = await this.get('/v1/model', signal);
    return expect<CurrentModel>(body, (b) => typeof b['version'] === 'number' && isRecord(b['model']), status);
  }

  async modelVersions(signal?: AbortSignal): Promise<ModelVersions> {
    const { status, body } = await this.get('/v1/model/versions', signal);
    return expect<ModelVersions>(body, (b) => typeof b['current'] === 'number' && Array.isArray(b['versions']), status);
  }

  /** Checks a candidate model with the server's schema and says what it would change; saves nothing. */
  async previewModel(model: unknown, sample: number, signal?: AbortSignal): Promise<ModelPreview> {
    const { status, body } = await this.send('POST', '/v1/model/preview', { model, sample }, signal);
    return expect<ModelPreview>(
      body,
      (b) => isRecord(b['before']) && isRecord(b['after']) && Array.isArray(b['moves']) && Array.isArray(b['sample']),
      status,
    );
  }

  /**
   * Saves a new version; the server starts recalculating every lead with it. With `basedOn`, only
   * on top of that version (If-Match): a version saved meanwhile answers 412 and nothing is saved.
   */
  async saveModel(model: unknown, basedOn?: number): Promise<SavedModel> {
    const { status, body } = await this.send('PUT', '/v1/model', model, undefined, basedOn === undefined ? undefined : { 'If-Match': `"v${basedOn}"` });
    return expect<SavedModel>(body, isSavedModel, status);
  }

  /** Saves an older version again as the newest one. */
  async restoreModelVersion(version: number): Promise<SavedModel> {
    if (!Number.isSafeInteger(version) || version < 0) throw new ApiError(404, 'version_not_found', 'there is no such version');
    const { status, body } = await this.send('POST', `/v1/model/versions/${version}/restore`);
    return expect<SavedModel>(body, isSavedModel, status);
  }

  /** The latest recalculation of the site, or null when there has been none. */
  async latestRecompute(signal?: AbortSignal): Promise<Recompute | null> {
    const { status, body } = await this.get('/v1/model/recompute', signal);
    const b = expect<{ recompute: unknown }>(body, (r) => r['recompute'] === null || isRecompute(r['recompute']), status);
    return b.recompute as Recompute | null;
  }

  async recompute(id: string, signal?: AbortSignal): Promise<Recompute> {
    // As for a lead id: "." and ".." would be resolved as path segments.
    if (id === '' || /^\.+$/.test(id)) throw new ApiError(404, 'recompute_not_found', 'there is no such recalculation');
    const { status, body } = await this.get(`/v1/model/recompute/${encodeURIComponent(id)}`, signal);
    return expect<{ recompute: Recompute }>(body, (b) => isRecompute(b['recompute']), status).recompute;
  }

  /** A band's members by score descending (the only order the API pages in). */
  async bandMembers(band: string, query: PageQuery, signal?: AbortSignal): Promise<MembersPage> {
    const name = segment(band, new ApiError(404, 'band_not_found', 'there is no such band'));
    const { status, body } = await this.get(`/v1/bands/${name}/members${pageParams(query)}`, signal);
    return expect<MembersPage>(body, (b) => Array.isArray(b['members']), status);
  }

  /**
   * Runs a band's nurturing branch for its current members. The same `idempotencyKey` again (a
   * double click, a retry after a network error) answers the first trigger and runs nothing.
   */
  async triggerBand(band: string, idempotencyKey: string, signal?: AbortSignal): Promise<TriggerResult> {
    const name = segment(band, new ApiError(404, 'band_not_found', 'there is no such band'));
    const { status, body } = await this.send('POST', `/v1/bands/${name}/trigger`, undefined, signal, { 'Idempotency-Key': idempotencyKey });
    return expect<TriggerResult>(body, (b) => isRecord(b['trigger']) && typeof b['replayed'] === 'boolean', status);
  }

  // ---- Model quality (`#quality`): types in quality-types.ts ----

  async quality(signal?: AbortSignal): Promise<QualityReport> {
    const { status, body } = await this.get('/v1/quality', signal);
    return expect<QualityReport>(body, (b) => Array.isArray(b['bands']) && Array.isArray(b['stages']) && Array.isArray(b['rules']), status);
  }

  /** Weights learnt from the site's outcomes, or why there are none yet. Saves nothing. */
  async suggestion(signal?: AbortSignal): Promise<Suggestion> {
    const { status, body } = await this.get('/v1/quality/suggestion', signal);
    return expect<Suggestion>(body, (b) => typeof b['enough'] === 'boolean' && typeof b['message'] === 'string', status);
  }

  async webhooks(signal?: AbortSignal): Promise<Webhook[]> {
    const { status, body } = await this.get('/v1/webhooks', signal);
    return expect<{ webhooks: Webhook[] }>(body, (b) => Array.isArray(b['webhooks']), status).webhooks;
  }

  async webhook(id: string, signal?: AbortSignal): Promise<WebhookDetail> {
    const { status, body } = await this.get(`/v1/webhooks/${segment(id, webhookNotFound())}`, signal);
    return expect<{ webhook: WebhookDetail }>(body, (b) => isRecord(b['webhook']), status).webhook;
  }

  /** Answers the subscription with its `whsec_` secret: the only time the API shows it. */
  async createWebhook(input: WebhookInput, signal?: AbortSignal): Promise<Webhook & { secret: string }> {
    const { status, body } = await this.send('POST', '/v1/webhooks', input, signal);
    const { webhook } = expect<{ webhook: Webhook & { secret: string } }>(
      body,
      (b) => isRecord(b['webhook']) && typeof b['webhook']['secret'] === 'string',
      status,
    );
    return webhook;
  }

  async deleteWebhook(id: string, signal?: AbortSignal): Promise<void> {
    await this.send('DELETE', `/v1/webhooks/${segment(id, webhookNotFound())}`, undefined, signal);
  }

  /** The delivery log, newest first. */
  async deliveries(webhookId: string, query: PageQuery & { status?: DeliveryStatus }, signal?: AbortSignal): Promise<DeliveryPage> {
    const params = new URLSearchParams();
    if (query.status) params.set('status', query.status);
    const path = `/v1/webhooks/${segment(webhookId, webhookNotFound())}/deliveries${pageParams(query, params)}`;
    const { status, body } = await this.get(path, signal);
    return expect<DeliveryPage>(body, (b) => Array.isArray(b['deliveries']), status);
  }

  /** Sends a delivery again now, with a fresh round of retries; the dispatcher runs right after. */
  async retryDelivery(webhookId: string, deliveryId: string, signal?: AbortSignal): Promise<{ id: string; status: string }> {
    const notFound = new ApiError(404, 'delivery_not_found', 'there is no such delivery');
    const path = `/v1/webhooks/${segment(webhookId, webhookNotFound())}/deliveries/${segment(deliveryId, notFound)}/retry`;
    const { status, body } = await this.send('POST', path, undefined, signal);
    return expect<{ delivery: { id: string; status: string } }>(body, (b) => isRecord(b['delivery']), status).delivery;
  }
}

const webhookNotFound = () => new ApiError(404, 'webhook_not_found', 'there is no such webhook');
