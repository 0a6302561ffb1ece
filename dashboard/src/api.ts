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
import type { CurrentModel, ModelPreview, ModelVersions, Recompute, SavedModel } from './model-types';

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

const isRecompute = (v: unknown): v is Recompute =>
  isRecord(v) && typeof v['id'] === 'string' && typeof v['status'] === 'string' && typeof v['processed'] === 'number';

const isSavedModel = (b: Record<string, unknown>): boolean =>
  typeof b['version'] === 'number' && isRecord(b['model']) && isRecompute(b['recompute']);

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

  /** `get` for the calls that change something: the same headers and error handling, plus a JSON body. */
  private async send(
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    json?: unknown,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: {
          Authorization: `Bearer ${this.key}`,
          Accept: 'application/json',
          ...(json === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: json === undefined ? null : JSON.stringify(json),
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

  /** Saves a new version; the server starts recalculating every lead with it. */
  async saveModel(model: unknown): Promise<SavedModel> {
    const { status, body } = await this.send('PUT', '/v1/model', model);
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
}
