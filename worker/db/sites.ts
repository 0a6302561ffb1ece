/** @module Finding the site a request acts for, with its current model. */
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { SiteContext } from '../env';
import { DEFAULT_MODEL } from '../scoring/default-model';
import { Model } from '../scoring/model';
import type { Database } from './client';
import { apiKeys, models, sites } from './schema';

/** Parsed models by `site:version`: versions are immutable, so the cache never goes stale. */
const modelCache = new Map<string, Model>();

function modelOf(siteId: string, version: number | null, document: unknown): Model {
  if (version === null) return DEFAULT_MODEL;
  const key = `${siteId}:${version}`;
  let m = modelCache.get(key);
  if (!m) {
    m = Model.parse(typeof document === 'string' ? JSON.parse(document) : document);
    if (modelCache.size > 500) modelCache.clear();
    modelCache.set(key, m);
  }
  return m;
}

async function withModel(
  db: Database,
  site: { id: string; name: string; siteKey: string; origins: string[] },
): Promise<SiteContext> {
  const [row] = await db
    .select({ version: models.version, document: models.document })
    .from(models)
    .where(eq(models.siteId, site.id))
    .orderBy(desc(models.version))
    .limit(1);
  return { ...site, model: modelOf(site.id, row?.version ?? null, row?.document), modelVersion: row?.version ?? 0 };
}

/** The site of a public site key, or null. One round trip: the model comes in the same query. */
export async function siteBySiteKey(db: Database, siteKey: string): Promise<SiteContext | null> {
  const [row] = await db
    .select({
      id: sites.id,
      name: sites.name,
      siteKey: sites.siteKey,
      origins: sites.origins,
      version: sql<number | null>`(SELECT version FROM models m WHERE m.site_id = ${sites.id} ORDER BY version DESC LIMIT 1)`,
      document: sql<string | null>`(SELECT document FROM models m WHERE m.site_id = ${sites.id} ORDER BY version DESC LIMIT 1)`,
    })
    .from(sites)
    .where(eq(sites.siteKey, siteKey));
  if (!row) return null;
  const { version, document, ...site } = row;
  return { ...site, model: modelOf(site.id, version, document), modelVersion: version ?? 0 };
}

/** The site and key id of a secret API key's hash, or null when unknown or revoked. */
export async function siteByApiKeyHash(db: Database, hash: string) {
  const [row] = await db
    .select({ keyId: apiKeys.id, id: sites.id, name: sites.name, siteKey: sites.siteKey, origins: sites.origins })
    .from(apiKeys)
    .innerJoin(sites, eq(sites.id, apiKeys.siteId))
    .where(and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt)));
  if (!row) return null;
  const { keyId, ...site } = row;
  return { keyId, site: await withModel(db, site) };
}
