/** Helpers for route tests: requests through the worker's own fetch, sites made through /admin. */
import { env, exports } from 'cloudflare:workers';
import { parseHistory } from '../../worker/db/lead-history';
import { isWriteConflict } from '../../worker/leads/write';

export const ORIGIN = 'https://www.acme-shop.example';
let counter = 0;

export function call(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(`https://leadscore.test${path}`, init));
}

export interface TestSite {
  id: string;
  siteKey: string;
  apiKey: string;
}

export async function newSite(origins: string[] = [ORIGIN]): Promise<TestSite> {
  const id = `site-${Date.now().toString(36)}-${++counter}`;
  const admin = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };
  const site = await call(`/admin/sites/${id}`, { method: 'PUT', headers: admin, body: JSON.stringify({ name: id, origins }) });
  if (site.status !== 200) throw new Error(`site: ${site.status} ${await site.text()}`);
  const key = await call(`/admin/sites/${id}/api-keys`, { method: 'POST', headers: admin });
  if (key.status !== 201) throw new Error(`key: ${key.status} ${await key.text()}`);
  return { id, siteKey: ((await site.json()) as { siteKey: string }).siteKey, apiKey: ((await key.json()) as { key: string }).key };
}

let eventCounter = 0;
export const eventId = () => `ev-${Date.now().toString(36)}-${++eventCounter}`;

/** A browser event as the snippet sends it. */
export const browserEvent = (visitor: string, type: string, extra: Record<string, unknown> = {}) => ({
  id: eventId(),
  type,
  ts: Date.now(),
  visitor,
  url: `${ORIGIN}/`,
  ...extra,
});

/** What a browser says it is: collect sets aside requests from robots (see ingest/bots.ts). */
export const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36';

export function collect(body: unknown, { origin = ORIGIN, contentType = 'text/plain;charset=UTF-8', userAgent = BROWSER_UA } = {}) {
  return call('/v1/collect', {
    method: 'POST',
    headers: { 'content-type': contentType, 'user-agent': userAgent, ...(origin ? { origin } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function api(site: TestSite, path: string, init: RequestInit = {}) {
  return call(path, {
    ...init,
    headers: { authorization: `Bearer ${site.apiKey}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
}

/** Rows a site has in each table that a request may write. */
export async function rowCounts(siteId: string) {
  const one = async (table: string) =>
    (await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE site_id = ?`).bind(siteId).first<{ n: number }>())!.n;
  return {
    events: await one('events'),
    visitors: await one('visitors'),
    leads: await one('leads'),
    transitions: await one('transitions'),
  };
}

/**
 * What ingest leaves of a site, for comparing two paths that took the same journey: each visitor
 * (its lead by e-mail, its times and pace), each lead (scores, band, stage, events, pages of
 * history) and the rows of each table.
 */
export async function siteState(siteId: string) {
  const { results: visitors } = await env.DB.prepare(
    `SELECT v.id, l.email, v.first_seen, v.last_seen, v.pace_start, v.pace_count, v.robot_since
     FROM visitors AS v LEFT JOIN leads AS l ON l.id = v.lead_id WHERE v.site_id = ? ORDER BY v.id`,
  )
    .bind(siteId)
    .all();
  const { results: leads } = await env.DB.prepare('SELECT email, score, band, stage, event_count, history_pages FROM leads WHERE site_id = ? ORDER BY email')
    .bind(siteId)
    .all();
  return { visitors, leads, counts: await rowCounts(siteId) };
}

export interface LeadJson {
  id: string;
  email: string;
  profile: Record<string, unknown>;
  scores: { fit: number; activity: number; engagement: number };
  score: number;
  band: string | null;
  stage: string;
  excluded: { reason: string } | null;
  modelVersion: number;
  breakdown: { ruleId: string; points: number; count: number }[];
  timeline: { kind: string; type: string }[];
}

export async function leadByEmail(site: TestSite, email: string): Promise<LeadJson | undefined> {
  const res = await api(site, `/v1/leads?q=${encodeURIComponent(email)}`);
  const { leads } = (await res.json()) as { leads: LeadJson[] };
  const summary = leads.find((l) => l.email === email);
  if (!summary) return undefined;
  return (await (await api(site, `/v1/leads/${summary.id}`)).json()) as LeadJson;
}

/**
 * The log of the lead whose id `lead` gives (a parameter, a column), as a subquery: the events
 * stored with its id, and those its visitors sent before they identified, which stay stored without
 * a lead (see `worker/db/lead-events`).
 */
export const leadLogOf = (lead: string) => `(SELECT * FROM events WHERE lead_id = ${lead}
  UNION ALL SELECT e.* FROM visitors AS v JOIN events AS e ON e.site_id = v.site_id AND e.visitor_id = v.id AND e.lead_id IS NULL WHERE v.lead_id = ${lead})`;

/** A lead's log, for `FROM ${LEAD_LOG} AS e` with the lead's id bound first. */
export const LEAD_LOG = leadLogOf('?1');

/**
 * Page views of the lead's first page view's visitor and shape, an hour apart from `start`, until
 * the lead has `total` events: stored as ingest stores them (the log, the packed history, the
 * count, the rev moved) without a request each, for the leads of thousands of events a test needs.
 * For a lead without pages, up to `HISTORY_MAX` events.
 */
export async function fillHistory(leadId: string, total: number, start: number) {
  const view = await env.DB.prepare(
    `SELECT e.site_id, e.visitor_id, e.shape_id, e.url FROM ${LEAD_LOG} AS e JOIN event_shapes AS s ON s.id = e.shape_id WHERE s.type = 'page_view' LIMIT 1`,
  )
    .bind(leadId)
    .first<{ site_id: string; visitor_id: string; shape_id: number; url: string | null }>();
  const count = await env.DB.prepare(`SELECT count(*) AS n FROM ${LEAD_LOG}`).bind(leadId).first<number>('n');
  await env.DB.batch([
    env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?6)
       INSERT INTO events (site_id, id, visitor_id, lead_id, shape_id, ts, url, received_at)
       SELECT ?1, 'fill-' || ?2 || '-' || i, ?3, ?2, ?4, ?5 + i * 3600000, ?7, ?5 FROM n`,
    ).bind(view!.site_id, leadId, view!.visitor_id, view!.shape_id, start, total - count!, view!.url),
    env.DB.prepare(
      `UPDATE leads SET history = (SELECT group_concat(ts || ':' || shape_id, ',') FROM ${LEAD_LOG}),
         event_count = (SELECT count(*) FROM ${LEAD_LOG}), rev = rev + 1 WHERE id = ?1 AND history_pages = 0`,
    ).bind(leadId),
  ]);
}

/** A lead's whole packed history, its pages' and its row's, as sorted `ts:shape` pairs. */
export async function packedHistory(leadId: string) {
  const { results } = await env.DB.prepare(
    'SELECT history FROM lead_history_pages WHERE lead_id = ?1 UNION ALL SELECT history FROM leads WHERE id = ?1',
  )
    .bind(leadId)
    .all<{ history: string }>();
  return results.flatMap((r) => parseHistory(r.history)).map((e) => `${e.ts}:${e.shapeId}`).sort();
}

/** The test's D1 with `overrides` in place of its own methods (`batch`, `prepare`…). */
export function proxiedD1(overrides: Partial<Pick<D1Database, 'batch' | 'prepare'>>): D1Database {
  return new Proxy(env.DB, {
    get(target, prop) {
      const override = overrides[prop as keyof typeof overrides];
      if (override) return override;
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * The test's D1 with another writer moving a lead before each batch (`rev` bumped by `bump`'s SQL,
 * bound to `id`): every write built on a read finds its lead changed. `conflicts()` counts the
 * batches that failed so.
 */
export function busyD1(bump: string, id: string): { d1: D1Database; conflicts: () => number } {
  let conflicts = 0;
  const d1 = proxiedD1({
    batch: async <T>(statements: D1PreparedStatement[]) => {
      await env.DB.prepare(bump).bind(id).run();
      try {
        return await env.DB.batch<T>(statements);
      } catch (err) {
        if (isWriteConflict(err)) conflicts++;
        throw err;
      }
    },
  });
  return { d1, conflicts: () => conflicts };
}
