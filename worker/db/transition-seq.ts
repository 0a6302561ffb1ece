/**
 * @module Numbering a site's changes. Transitions are keyed by (site, seq) WITHOUT ROWID (migration
 * 0019): `seq` is the site's own count, and each statement that appends changes numbers them after
 * the site's newest, which it reads itself (one row: the key's last entry for the site).
 *
 * D1 runs one write transaction at a time, so a transaction's changes are numbered after every
 * change committed before it, and no reader sees seq n+1 before seq n exists: paging by
 * `seq > after` never skips nor repeats a change. A number is never handed out twice, which a
 * poller's cursor standing on it would skip: an erasure leaves a blank in place of the site's
 * newest change rather than delete it (see `leads/erase`).
 */
import { sql, type SQL } from 'drizzle-orm';
import { transitions } from './schema';

/** The site's newest `seq` (0 for none), as SQL text: `site` is the SQL of the site's id. */
export const newestSeqSql = (site: string) => `(SELECT coalesce(max(seq), 0) FROM transitions WHERE site_id = ${site})`;

/** The same for drizzle's builder, with the site's id bound. */
export const newestSeq = (siteId: string): SQL => sql`(SELECT coalesce(max(${transitions.seq}), 0) FROM ${transitions} WHERE ${transitions.siteId} = ${siteId})`;

/** What an erasure leaves of the site's newest change when it was the erased lead's: no lead, no values. */
export const ERASED = 'erased';
