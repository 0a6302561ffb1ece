/** @module Stored model versions: every saved version is kept, the highest is the current one. */
import { and, desc, eq } from 'drizzle-orm';
import { DEFAULT_MODEL } from '../scoring/default-model';
import { Model } from '../scoring/model';
import type { Database } from './client';
import { models } from './schema';

/** Parsed models by `site:version`: versions never change once saved, so the cache never goes stale. */
const cache = new Map<string, Model>();

/** The model of a stored document; version 0 is the built-in default, used until a site saves one. */
export function parsedModel(siteId: string, version: number | null, document: unknown): Model {
  if (!version) return DEFAULT_MODEL;
  const key = `${siteId}:${version}`;
  let m = cache.get(key);
  if (!m) {
    m = Model.parse(typeof document === 'string' ? JSON.parse(document) : document);
    if (cache.size > 500) cache.clear();
    cache.set(key, m);
  }
  return m;
}

export async function modelVersion(db: Database, siteId: string, version: number): Promise<Model | null> {
  if (version === 0) return DEFAULT_MODEL;
  const [row] = await db
    .select({ document: models.document })
    .from(models)
    .where(and(eq(models.siteId, siteId), eq(models.version, version)));
  return row ? parsedModel(siteId, version, row.document) : null;
}

export async function latestModel(db: Database, siteId: string): Promise<{ model: Model; version: number }> {
  const [row] = await db
    .select({ version: models.version, document: models.document })
    .from(models)
    .where(eq(models.siteId, siteId))
    .orderBy(desc(models.version))
    .limit(1);
  return { model: parsedModel(siteId, row?.version ?? null, row?.document), version: row?.version ?? 0 };
}

export function listVersions(db: Database, siteId: string) {
  return db
    .select({ version: models.version, createdAt: models.createdAt, createdBy: models.createdBy })
    .from(models)
    .where(eq(models.siteId, siteId))
    .orderBy(desc(models.version));
}
