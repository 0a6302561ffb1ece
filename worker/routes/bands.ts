/**
 * @module `/v1/bands`: each band of the model with its nurturing branch and member count, its
 * members, and running its branch for them by hand.
 */
import { and, eq, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { database } from '../db/client';
import { listLeads } from '../db/leads';
import { leads, transitions, triggers } from '../db/schema';
import { newestSeq } from '../db/transition-seq';
import type { AppEnv, SiteContext } from '../env';
import { decodeCursor, encodeCursor } from '../lib/cursor';
import { ApiError, parseOr400 } from '../lib/errors';
import { randomToken } from '../lib/ids';
import { EXCLUDED } from '../scoring/model';
import { BUCKET } from '../segments/buckets';
import { dayOf } from '../lib/day';
import { bucketCounts, countedFrom, recentCounts } from '../segments/histogram';
import { bandDaysOf, countersOf, countsIn, robotDaysOf } from '../segments/snapshot';
import { dispatchSoon } from '../webhooks/dispatch';
import { leadSummary } from '../leads/lead-json';

export const bandsRoutes = new Hono<AppEnv>();

/**
 * Counts from the maintained counters (a few rows, whatever the number of leads), with each band's
 * count at the end of yesterday (UTC) for "since yesterday", null before the first snapshot.
 */
bandsRoutes.get('/', async (c) => {
  const site = c.get('site');
  const now = Date.now();
  const db = database(c.env.DB);
  const yesterday = dayOf(now - 86_400_000);
  const [counters, history] = await db.batch([countersOf(db, site.id), bandDaysOf(db, site.id, yesterday)]);
  const counts = countsIn(counters);
  const countOf = (band: string) => counts.band[band] ?? 0;
  const before = (band: string) => history.find((r) => r.day === yesterday && r.band === band)?.count ?? null;
  const bands = site.model.bands.map((b, i) => ({
    name: b.name,
    min: b.min,
    max: site.model.bands[i + 1]?.min ?? null,
    branch: b.branch,
    description: b.description ?? null,
    count: countOf(b.name),
    yesterday: before(b.name),
  }));
  const total = Object.values(counts.band).reduce((n, count) => n + count, 0);
  return c.json({ bands, excluded: { count: countOf(''), yesterday: before('') }, total });
});

/**
 * The segments' charts: the score histogram of the leads in bands (buckets of `bucket` points,
 * recounted after the answer once the isolate's count is old enough, see `segments/histogram`;
 * `countedAt` when it was counted) and the leads per band at the end of each of the last 30 days;
 * and the requests and events of robots, set aside unscored, per day. One round trip before the
 * answer, and no write.
 */
bandsRoutes.get('/stats', async (c) => {
  const site = c.get('site');
  const now = Date.now();
  const db = database(c.env.DB);
  const since = dayOf(now - 30 * 86_400_000);
  const kept = recentCounts.last(site.id, site.modelVersion);
  const reads = [countersOf(db, site.id), bandDaysOf(db, site.id, since), robotDaysOf(db, site.id, since)] as const;
  const [counters, history, robots, buckets] = kept ? [...(await db.batch(reads)), null] : await db.batch([...reads, bucketCounts(db, site.id)]);
  const counted = kept ?? countedFrom(buckets!, now);
  if (!kept) recentCounts.keep(site.id, site.modelVersion, counted);
  else if (!recentCounts.fresh(site.id, site.modelVersion, now) && recentCounts.claim(site.id, site.modelVersion, now)) {
    // Past its age: answered as it is, and recounted after the answer for the next look.
    c.executionCtx.waitUntil(
      bucketCounts(db, site.id).then(
        (rows) => recentCounts.keep(site.id, site.modelVersion, countedFrom(rows, Date.now())),
        (err) => {
          recentCounts.release(site.id, site.modelVersion);
          console.error('histogram recount failed', err);
        },
      ),
    );
  }
  const counts = countsIn(counters);
  const label = (band: string) => (band === '' ? EXCLUDED : band);
  const days = new Map<string, Record<string, number>>();
  for (const r of history) days.set(r.day, { ...days.get(r.day), [label(r.band)]: r.count });
  // Today as it is now, from the live counters, whether or not the cron has taken today's count.
  days.set(dayOf(now), Object.fromEntries(Object.entries(counts.band).map(([band, count]) => [label(band), count])));
  return c.json({
    bucket: BUCKET,
    bounds: site.model.bands.map((b) => ({ band: b.name, min: b.min })),
    histogram: counted.histogram,
    countedAt: counted.countedAt,
    history: [...days].map(([day, bands]) => ({ day, bands })),
    robots,
  });
});

function bandOf(site: SiteContext, name: string) {
  const band = site.model.bands.find((b) => b.name === name);
  if (!band) throw new ApiError(404, 'band_not_found', `no band ${JSON.stringify(name)} in the model (${site.model.bands.map((b) => b.name).join(', ')})`);
  return band;
}

export const MembersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional(),
});

const MembersCursor = z.tuple([z.number(), z.string().max(64)]);

/**
 * By score, then id, with a keyset cursor: a lead that stays in the band is seen once however the
 * others move; one that moves in or out meanwhile is told by the changes feed.
 */
bandsRoutes.get('/:band/members', async (c) => {
  const site = c.get('site');
  const band = bandOf(site, c.req.param('band'));
  const query = parseOr400(MembersQuery, c.req.query(), 'the query');
  const after = query.cursor ? decodeCursor(MembersCursor, query.cursor) : undefined;
  const { page, next } = await listLeads(database(c.env.DB), site.id, [], { band: band.name }, query.limit, after && { score: after[0], id: after[1] });
  return c.json({ band: band.name, members: page.map(leadSummary), nextCursor: next ? encodeCursor([next.score, next.id]) : null });
});

export const IdempotencyKey = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

/**
 * One `branch.triggered` change per current member, written with the trigger in one batch: the
 * members are read and the changes written in the same transaction, so none is missed or doubled.
 * The same Idempotency-Key answers with the first trigger and writes nothing. Without one, every
 * call runs the branch anew (the trigger's own id stands for its key): SPEC's call as written
 * works, and a client that may retry sends a key.
 */
bandsRoutes.post('/:band/trigger', async (c) => {
  const site = c.get('site');
  const band = bandOf(site, c.req.param('band'));
  const given = parseOr400(IdempotencyKey.optional(), c.req.header('idempotency-key'), 'the Idempotency-Key header');
  const db = database(c.env.DB);
  const id = `trg_${randomToken(20)}`;
  const key = given ?? id;
  const now = Date.now();
  const members = and(eq(leads.siteId, site.id), eq(leads.band, band.name));
  try {
    await db.batch([
      db.insert(triggers).select(
        sql`SELECT ${id}, ${site.id}, ${key}, ${band.name}, ${band.branch}, (SELECT count(*) FROM ${leads} WHERE ${members}), ${now}`,
      ),
      // drizzle lists every column of transitions in schema order; each member's change numbered
      // after the site's newest (see `db/transition-seq`), in the order of the band's members.
      db.insert(transitions).select(
        sql`SELECT ${site.id}, ${newestSeq(site.id)} + row_number() OVER (ORDER BY ${leads.score} DESC, ${leads.id}), ${leads.id},
              'branch.triggered', NULL, ${band.name}, ${id}, ${band.branch}, 'trigger', ${now}
            FROM ${leads} WHERE ${members}`,
      ),
    ]);
  } catch (err) {
    if (!/UNIQUE constraint failed: triggers\./.test(`${String(err)} ${err instanceof Error ? String(err.cause) : ''}`)) throw err;
    const [first] = await db.select().from(triggers).where(and(eq(triggers.siteId, site.id), eq(triggers.idempotencyKey, key)));
    if (!first) throw err;
    if (first.band !== band.name) {
      throw new ApiError(409, 'idempotency_key_reused', `this Idempotency-Key already triggered the band ${JSON.stringify(first.band)}`);
    }
    return c.json({ trigger: triggerJson(first), replayed: true }, 200);
  }
  const [created] = await db.select().from(triggers).where(eq(triggers.id, id));
  dispatchSoon(c.env.DB, c.executionCtx, site);
  return c.json({ trigger: triggerJson(created!), replayed: false }, 202);
});

const triggerJson = (t: typeof triggers.$inferSelect) => ({
  id: t.id,
  band: t.band,
  branch: t.branch,
  count: t.count,
  createdAt: t.createdAt,
});
