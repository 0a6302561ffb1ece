/**
 * @module The scoring model as a document: read it, save a new version (which recomputes every
 * lead), list and restore versions, preview a candidate, and follow the recompute.
 */
import { and, desc, eq } from 'drizzle-orm';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { database, type Database } from '../db/client';
import { listVersions, modelVersion } from '../db/models';
import { forgetSite } from '../db/site-cache';
import { models, recomputes } from '../db/schema';
import type { AppEnv } from '../env';
import { recomputeStart, type RecomputeRow } from '../jobs/recompute';
import { previewModel } from '../jobs/preview';
import { readJsonBody } from '../lib/body';
import { ApiError, parseOr400 } from '../lib/errors';
import { Model } from '../scoring/model';

export const modelRoutes = new Hono<AppEnv>();

const MAX_MODEL_BYTES = 256 * 1024;

const recomputeJson = (r: RecomputeRow) => ({
  id: r.id,
  modelVersion: r.modelVersion,
  status: r.status,
  total: r.total,
  processed: r.processed,
  changed: r.changed,
  startedAt: r.startedAt,
  updatedAt: r.updatedAt,
  finishedAt: r.finishedAt,
});

/** The model's version as an entity tag: `PUT` with `If-Match` saves only on top of that version. */
const etag = (version: number) => `"v${version}"`;

modelRoutes.get('/', (c) => {
  const site = c.get('site');
  c.header('ETag', etag(site.modelVersion));
  return c.json({ version: site.modelVersion, model: site.model });
});

/** Saves `model` as the next version and starts recomputing every lead with it. */
async function saveVersion(c: Context<AppEnv>, model: Model, restoredFrom?: number) {
  const site = c.get('site');
  const db = database(c.env.DB);
  const now = Date.now();
  const version = site.modelVersion + 1;
  const start = await recomputeStart(db, site.id, version, now);
  try {
    await db.batch([
      db.insert(models).values({ siteId: site.id, version, document: model, createdAt: now, createdBy: c.get('apiKeyId') }),
      ...start.statements,
    ]);
  } catch (err) {
    if (/UNIQUE|PRIMARY KEY/.test(`${String(err)} ${String((err as Error).cause ?? '')}`)) {
      throw new ApiError(409, 'model_conflict', `version ${version} was just saved by someone else; load the model again`);
    }
    throw err;
  }
  // Collect in this isolate scores with it from the next request; elsewhere ingest's read finds it.
  forgetSite(site.id);
  await c.env.JOBS.send({ kind: 'recompute', id: start.row.id });
  return c.json(
    { version, createdAt: now, ...(restoredFrom ? { restoredFrom } : {}), model, recompute: recomputeJson(start.row) },
    201,
  );
}

/**
 * What `GET /v1/model` answers, sent back as it is once edited: `version` is the one it was loaded
 * at, checked as `If-Match` would be.
 */
export const ModelEnvelope = z.strictObject({ version: z.number().int().min(0).optional(), model: Model });

/** The bare document, or `GET`'s answer edited (an object with a `model` key). */
export const ModelBody = z.union([Model, ModelEnvelope]);

modelRoutes.put('/', async (c) => {
  const body = await readJsonBody(c, MAX_MODEL_BYTES);
  // Parsed by shape rather than through the union, so that a mistake is named at its own path
  // (`model.bands.0.min`, or `bands.0.min`) instead of once for each of the union's forms.
  const enveloped = typeof body === 'object' && body !== null && !Array.isArray(body) && 'model' in body;
  const { version, model } = enveloped ? parseOr400(ModelEnvelope, body, 'the model') : { version: undefined, model: parseOr400(Model, body, 'the model') };
  // An editor that loaded version N sends If-Match: "vN" (or N as the envelope's version); a
  // version saved meanwhile by someone else makes this save fail instead of silently replacing
  // theirs. The new version's primary key (site, N + 1) closes the window between this check and
  // the insert.
  const current = etag(c.get('site').modelVersion);
  const ifMatch = c.req.header('if-match')?.trim();
  const loaded =
    ifMatch !== undefined && ifMatch !== '*' && !ifMatch.split(',').some((t) => t.trim() === current)
      ? ifMatch
      : version !== undefined && etag(version) !== current
        ? etag(version)
        : null;
  if (loaded) throw new ApiError(412, 'model_changed', `the model is now at ${current}, not ${loaded}: load it again before saving`);
  return saveVersion(c, model);
});

modelRoutes.get('/versions', async (c) => {
  const site = c.get('site');
  const versions = await listVersions(database(c.env.DB), site.id);
  return c.json({ current: site.modelVersion, versions: [...versions, { version: 0, createdAt: null, createdBy: null, builtIn: true }] });
});

export const VersionParam = z.coerce.number().int().min(0).max(1_000_000);

async function versionOr404(db: Database, siteId: string, raw: string) {
  const version = parseOr400(VersionParam, raw, 'the version');
  const model = await modelVersion(db, siteId, version);
  if (!model) throw new ApiError(404, 'version_not_found', `this site has no model version ${version}`);
  return { version, model };
}

modelRoutes.get('/versions/:version', async (c) => {
  const { version, model } = await versionOr404(database(c.env.DB), c.get('site').id, c.req.param('version'));
  return c.json({ version, model });
});

/** Restoring saves the old document again as a new version: history only ever grows. */
modelRoutes.post('/versions/:version/restore', async (c) => {
  const { version, model } = await versionOr404(database(c.env.DB), c.get('site').id, c.req.param('version'));
  return saveVersion(c, model, version);
});

modelRoutes.get('/recompute', async (c) => {
  const [job] = await database(c.env.DB)
    .select()
    .from(recomputes)
    .where(eq(recomputes.siteId, c.get('site').id))
    .orderBy(desc(recomputes.startedAt))
    .limit(1);
  return c.json({ recompute: job ? recomputeJson(job) : null });
});

modelRoutes.get('/recompute/:id', async (c) => {
  const [job] = await database(c.env.DB)
    .select()
    .from(recomputes)
    .where(and(eq(recomputes.siteId, c.get('site').id), eq(recomputes.id, c.req.param('id'))));
  if (!job) throw new ApiError(404, 'recompute_not_found', 'no such recompute on this site');
  return c.json({ recompute: recomputeJson(job) });
});

export const PreviewBody = z.strictObject({ model: Model, sample: z.number().int().min(0).max(100).default(20) });

modelRoutes.post('/preview', async (c) => {
  const body = parseOr400(PreviewBody, await readJsonBody(c, MAX_MODEL_BYTES), 'the preview request');
  const site = c.get('site');
  return c.json(await previewModel(database(c.env.DB), site.id, site.model, body.model, body.sample, Date.now()));
});
