/**
 * @module Sites by public site key or by id, kept a few seconds in the isolate: the lookup is a D1
 * round trip of its own, before ingest's read and write, on every collect request and every queue
 * batch. A warm isolate answers from here and a collect request costs the two batches alone.
 *
 * What a cached site may get wrong until it expires (`SITE_TTL_MS`), in the isolates other than the
 * one that made the change (that one forgets the site at once, see `forgetSite`):
 * - its model: never scored with. Ingest's read batch reads the site's latest version and reloads
 *   the model when it is newer, as it already must for a model saved during a request; the newer
 *   model is then put here (`refreshModel`), so one request per isolate pays that reload.
 * - its origins: an origin added is refused, one removed still accepted, until the entry expires.
 *   The origin check is there to keep other pages' beacons out, not to authenticate (any client
 *   can send any `Origin`), so a few seconds' lag is the price of the round trip.
 * - whether a webhook listens: a new webhook first hears of changes at the cron's next minute,
 *   a removed one costs a dispatch that finds nothing.
 * - the site itself, deleted (there is no route for that, only SQL): every write of the site's rows
 *   fails its foreign key; `siteGone` tells that apart, and collect answers 403 `unknown_site_key`,
 *   the queue consumer drops the events. A site deleted and made again under the same id within the
 *   TTL would receive the old key's events for those seconds.
 * Unknown keys are not cached: a site just created must not be refused, and a stranger's guesses
 * would push real sites out. API keys are not cached either (`auth/`): revoking one ends its use
 * at once.
 */
import type { SiteContext } from '../env';
import type { Database } from './client';
import { siteById, siteBySiteKey } from './sites';

/** How long an isolate trusts what it read of a site: the lag of an origin change elsewhere. */
export const SITE_TTL_MS = 30_000;
/** Entries kept (two per site at most: by key, by id); the oldest goes first. */
const MAX_ENTRIES = 2_000;

interface Entry {
  site: SiteContext;
  expires: number;
}

const entries = new Map<string, Entry>();

async function cached(key: string, now: number, read: () => Promise<SiteContext | null>): Promise<SiteContext | null> {
  const hit = entries.get(key);
  if (hit && hit.expires > now) return hit.site;
  entries.delete(key);
  const site = await read();
  if (site) {
    if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    entries.set(key, { site, expires: now + SITE_TTL_MS });
  }
  return site;
}

/** The site of a public site key, or null, from the isolate's cache while fresh. */
export const cachedSiteBySiteKey = (db: Database, siteKey: string, now = Date.now()) =>
  cached(`key:${siteKey}`, now, () => siteBySiteKey(db, siteKey));

/** A site by its id, or null, from the isolate's cache while fresh: for the queue's consumer. */
export const cachedSiteById = (db: Database, id: string, now = Date.now()) => cached(`id:${id}`, now, () => siteById(db, id));

/** Drops what the isolate holds of a site: called wherever this isolate changes it. */
export function forgetSite(siteId: string): void {
  for (const [key, entry] of entries) if (entry.site.id === siteId) entries.delete(key);
}

/** Puts a model that ingest found newer in the site's entries, which keep their expiry. */
export function refreshModel(site: SiteContext): void {
  for (const entry of entries.values()) {
    if (entry.site.id === site.id && entry.site.modelVersion < site.modelVersion) {
      entry.site = { ...entry.site, model: site.model, modelVersion: site.modelVersion };
    }
  }
}

/**
 * Whether `err`, thrown while writing for a site, is that site no longer existing: a foreign key
 * failed and the site's row is gone. The site is forgotten on any foreign-key failure, and read
 * again here, uncached.
 */
export async function siteGone(db: Database, siteId: string, err: unknown): Promise<boolean> {
  const text = `${String(err)} ${err instanceof Error && err.cause ? String(err.cause) : ''}`;
  if (!/FOREIGN KEY constraint failed/.test(text)) return false;
  forgetSite(siteId);
  return (await siteById(db, siteId)) === null;
}
