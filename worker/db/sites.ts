/** @module Finding the site a request acts for, with its current model. */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { SiteContext } from '../env';
import type { Database } from './client';
import { parsedModel } from './models';
import { apiKeys, sites } from './schema';

/** The current model, folded into the site's own query so that finding a site costs one round trip. */
const currentModel = {
  version: sql<number | null>`(SELECT version FROM models m WHERE m.site_id = ${sites.id} ORDER BY version DESC LIMIT 1)`,
  document: sql<string | null>`(SELECT document FROM models m WHERE m.site_id = ${sites.id} ORDER BY version DESC LIMIT 1)`,
};

/** The site of a public site key, or null. */
export async function siteBySiteKey(db: Database, siteKey: string): Promise<SiteContext | null> {
  const [row] = await db
    .select({
      id: sites.id,
      name: sites.name,
      siteKey: sites.siteKey,
      origins: sites.origins,
      ...currentModel,
    })
    .from(sites)
    .where(eq(sites.siteKey, siteKey));
  if (!row) return null;
  const { version, document, ...site } = row;
  return { ...site, model: parsedModel(site.id, version, document), modelVersion: version ?? 0 };
}

/** The site and key id of a secret API key's hash, or null when unknown or revoked. */
export async function siteByApiKeyHash(db: Database, hash: string) {
  const [row] = await db
    .select({
      keyId: apiKeys.id,
      id: sites.id,
      name: sites.name,
      siteKey: sites.siteKey,
      origins: sites.origins,
      ...currentModel,
    })
    .from(apiKeys)
    .innerJoin(sites, eq(sites.id, apiKeys.siteId))
    .where(and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt)));
  if (!row) return null;
  const { keyId, version, document, ...site } = row;
  return { keyId, site: { ...site, model: parsedModel(site.id, version, document), modelVersion: version ?? 0 } };
}
