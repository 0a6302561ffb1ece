/** @module Finding the site a request acts for, with its current model. */
import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { SiteContext } from '../env';
import type { Database } from './client';
import { parsedModel } from './models';
import { apiKeys, sites } from './schema';

/**
 * The current model, and whether any webhook listens, folded into the site's own query so that
 * finding a site costs one round trip. `sites.id` is spelled out: drizzle leaves the columns of a
 * one-table select unqualified, and inside the subqueries a bare "id" would be the webhook's.
 */
const currentModel = {
  version: sql<number | null>`(SELECT version FROM models m WHERE m.site_id = sites.id ORDER BY version DESC LIMIT 1)`,
  document: sql<string | null>`(SELECT document FROM models m WHERE m.site_id = sites.id ORDER BY version DESC LIMIT 1)`,
  webhooks: sql<number>`EXISTS (SELECT 1 FROM webhooks w WHERE w.site_id = sites.id AND w.disabled_at IS NULL)`,
};

/** The site of a public site key, or null. */
export const siteBySiteKey = (db: Database, siteKey: string) => siteWhere(db, eq(sites.siteKey, siteKey));

/** A site by its id, or null: the queue's consumer knows the site by id. */
export const siteById = (db: Database, id: string) => siteWhere(db, eq(sites.id, id));

async function siteWhere(db: Database, where: SQL): Promise<SiteContext | null> {
  const [row] = await db
    .select({
      id: sites.id,
      name: sites.name,
      siteKey: sites.siteKey,
      origins: sites.origins,
      ...currentModel,
    })
    .from(sites)
    .where(where);
  if (!row) return null;
  const { version, document, webhooks, ...site } = row;
  return { ...site, model: parsedModel(site.id, version, document), modelVersion: version ?? 0, hasWebhooks: webhooks === 1 };
}

/** The site and key id of a secret API key's hash, or null when unknown or revoked. */
export const siteByApiKeyHash = (db: Database, hash: string) => siteOfLiveKey(db, eq(apiKeys.hash, hash));

/**
 * The site and key id of an API key's id, or null when unknown or revoked: a dashboard session
 * names its key by id, and reading the key's row on every request is what lets revoking the key
 * end its sessions at once.
 */
export const siteByApiKeyId = (db: Database, keyId: string) => siteOfLiveKey(db, eq(apiKeys.id, keyId));

/** One read by a unique index (the key's id or hash) that also brings the site and its model. */
async function siteOfLiveKey(db: Database, key: SQL) {
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
    .where(and(key, isNull(apiKeys.revokedAt)));
  if (!row) return null;
  const { keyId, version, document, webhooks, ...site } = row;
  return { keyId, site: { ...site, model: parsedModel(site.id, version, document), modelVersion: version ?? 0, hasWebhooks: webhooks === 1 } };
}
