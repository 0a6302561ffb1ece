/**
 * @module The dashboard's only door to the `/v1` API: same origin, bearer API key, typed answers.
 *
 * Failures of every kind become an `ApiError` carrying the server's own message, so that views can
 * show it as is. An aborted request (the user navigated away) is rethrown untouched: callers
 * recognise it with `isAbort` and drop it silently.
 */

// Types only, erased from the bundle: the dashboard reads what the engine writes, named once.
import type { Dimension, Stage } from '../../worker/scoring/model';
import type { BreakdownItem } from '../../worker/scoring/types';

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
}

export interface BandsResponse {
  bands: Band[];
  excluded: { count: number };
  total: number;
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

export interface LeadDetail extends LeadSummary {
  breakdown: BreakdownItem[];
  timeline: TimelineItem[];
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

export class Api {
  /** The key is kept in this object and sessionStorage only, never in the DOM or a URL. */
  constructor(private readonly key: string) {}

  private async get(path: string, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await fetch(path, {
        method: 'GET',
        headers: { Authorization: `Bearer ${this.key}`, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
        signal,
      });
    } catch (err) {
      if (isAbort(err)) throw err;
      throw new ApiError(0, 'network_error', 'could not reach the server; check your connection');
    }
    let body: unknown = null;
    try {
      body = await res.json();
    } catch (err) {
      if (isAbort(err)) throw err;
      body = null;
    }
    if (!res.ok) throw errorFrom(res.status, body);
    return { status: res.status, body };
  }

  /** Like `get`, for the requests that change something: a JSON body, and extra headers. */
  private async send(
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: {
          ...headers,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          Authorization: `Bearer ${this.key}`,
          Accept: 'application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
        signal,
      });
    } catch (err) {
      if (isAbort(err)) throw err;
      throw new ApiError(0, 'network_error', 'could not reach the server; check your connection');
    }
    let answer: unknown = null;
    try {
      // A 204 has no body: null, like any answer that is not JSON.
      answer = await res.json();
    } catch (err) {
      if (isAbort(err)) throw err;
      answer = null;
    }
    if (!res.ok) throw errorFrom(res.status, answer);
    return { status: res.status, body: answer };
  }

  async bands(signal?: AbortSignal): Promise<BandsResponse> {
    const { status, body } = await this.get('/v1/bands', signal);
    return expect<BandsResponse>(body, (b) => Array.isArray(b['bands']) && isRecord(b['excluded']), status);
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
