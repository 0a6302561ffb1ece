/**
 * @module `GET /v1/leads` and `GET /v1/leads/{id}`: segments' members and why each has its score;
 * sales' changes; a lead's export and its erasure.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { database } from '../db/client';
import { leadWithHistory, listLeads } from '../db/leads';
import { meterD1 } from '../db/metering';
import { modelVersion } from '../db/models';
import type { AppEnv } from '../env';
import { eraseLead } from '../leads/erase';
import { exportLead } from '../leads/export';
import { applySalesUpdate, SalesUpdate } from '../leads/sales';
import { readJsonBody } from '../lib/body';
import { decodeCursor, encodeCursor } from '../lib/cursor';
import { ApiError, parseOr400 } from '../lib/errors';
import { STAGES, type Stage } from '../scoring/model';
import { scoreHistory } from '../scoring/history';
import { scoreLead } from '../scoring/score';
import { leadSummary, transitionJson } from '../leads/lead-json';

export const leadsRoutes = new Hono<AppEnv>();

// What a read costs in rows, for bench/reads and the tests that guard the query plans.
leadsRoutes.use('*', meterD1);

export const LeadListQuery = z.strictObject({
  band: z.string().min(1).max(64).optional(),
  stage: z.enum(STAGES).optional(),
  excluded: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  q: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
});

const ListCursor = z.tuple([z.number(), z.string().max(64)]);

leadsRoutes.get('/', async (c) => {
  const site = c.get('site');
  const query = parseOr400(LeadListQuery, c.req.query(), 'the query');
  const bands = site.model.bands.map((b) => b.name);
  if (query.band !== undefined && !bands.includes(query.band)) {
    // An empty page would read as "nobody there" for a misspelt band, or for the excluded leads.
    throw new ApiError(400, 'invalid_request', 'the query is not valid', [
      { path: ['band'], message: `no band ${JSON.stringify(query.band)} in the model (${bands.join(', ')}); the leads in no band are listed with excluded=true` },
    ]);
  }
  const after = query.cursor ? decodeCursor(ListCursor, query.cursor) : undefined;
  const { page, next } = await listLeads(
    database(c.env.DB),
    site.id,
    bands,
    { band: query.band, stage: query.stage, excluded: query.excluded, q: query.q },
    query.limit,
    after ? { score: after[0], id: after[1] } : undefined,
  );
  return c.json({ leads: page.map(leadSummary), nextCursor: next ? encodeCursor([next.score, next.id]) : null });
});

const TIMELINE_LIMIT = 200;

leadsRoutes.get('/:id', async (c) => {
  const site = c.get('site');
  const id = c.req.param('id');
  const db = database(c.env.DB);
  const found = await leadWithHistory(db, site.id, id, TIMELINE_LIMIT);
  if (!found) throw new ApiError(404, 'lead_not_found', `no lead ${JSON.stringify(id)} on this site`);
  const { lead, events, recent, transitions, feedback } = found;
  // Explained as of the last scoring, with the model that scored it, so that the breakdown adds up
  // to the stored scores: a lead a recompute has not reached yet is still on the version before.
  const model = lead.modelVersion === site.modelVersion ? site.model : ((await modelVersion(db, site.id, lead.modelVersion)) ?? site.model);
  const explained = scoreLead(model, events, lead.profile, lead.scoredAt ?? Date.now(), lead.stage as Stage, lead.recycledAt);
  // Each point sums the rule contributions of the events before it: fewer points for a lead with a long history.
  const history = scoreHistory(model, events, lead.profile, events.length > 2000 ? 50 : TIMELINE_LIMIT);
  const scoreAfter = new Map(history.map((h) => [h.eventId, h]));
  const timeline = [
    ...recent.map((e) => ({
      kind: 'event' as const,
      id: e.id,
      type: e.type,
      ts: e.ts,
      url: e.url,
      title: e.title,
      contentType: e.contentType,
      score: scoreAfter.get(e.id)?.total ?? null,
      delta: scoreAfter.get(e.id)?.delta ?? null,
    })),
    ...transitions.map((t) => ({ kind: 'transition' as const, ...transitionJson(t) })),
  ].sort((a, b) => ('ts' in b ? b.ts : b.at) - ('ts' in a ? a.ts : a.at));
  return c.json({
    ...leadSummary(lead),
    modelVersion: lead.modelVersion,
    breakdown: explained.breakdown,
    feedback: feedback.map((f) => ({ fit: f.fit, outcome: f.outcome, note: f.note, at: f.createdAt })),
    timeline,
  });
});

leadsRoutes.patch('/:id', async (c) => {
  const site = c.get('site');
  const id = c.req.param('id');
  const update = parseOr400(SalesUpdate, await readJsonBody(c, 8 * 1024), 'the update');
  const after = await applySalesUpdate(database(c.env.DB), site.id, id, update, c.get('apiKeyId'));
  if (!after) throw new ApiError(404, 'lead_not_found', `no lead ${JSON.stringify(id)} on this site`);
  return c.json(leadSummary(after));
});

leadsRoutes.get('/:id/export', async (c) => {
  const id = c.req.param('id');
  const found = await exportLead(database(c.env.DB), c.get('site').id, id, Date.now());
  if (!found) throw new ApiError(404, 'lead_not_found', `no lead ${JSON.stringify(id)} on this site`);
  return c.body(found.body, 200, {
    'content-type': 'application/json; charset=UTF-8',
    'content-disposition': `attachment; filename="lead-${found.lead.id}.json"`,
    // Personal data: no cache between the worker and whoever asked keeps a copy.
    'cache-control': 'no-store',
  });
});

leadsRoutes.delete('/:id', async (c) => {
  const id = c.req.param('id');
  if (!(await eraseLead(database(c.env.DB), c.get('site').id, id))) {
    throw new ApiError(404, 'lead_not_found', `no lead ${JSON.stringify(id)} on this site`);
  }
  return c.body(null, 204);
});
