/** @module `GET /v1/changes`: the transitions feed, oldest first, for polling triggers (Zapier, n8n). */
import { Hono } from 'hono';
import { z } from 'zod';
import { changesAfter, itemOf } from '../changes/feed';
import { database } from '../db/client';
import { meterD1 } from '../db/metering';
import type { AppEnv } from '../env';
import { decodeCursor, encodeCursor } from '../lib/cursor';
import { parseOr400 } from '../lib/errors';

export const changesRoutes = new Hono<AppEnv>();

changesRoutes.use('*', meterD1);

export const ChangesQuery = z.strictObject({
  /** A `nextCursor` from an earlier page; without it, the feed starts at the site's first change. */
  after: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const FeedCursor = z.tuple([z.number().int().min(0)]);

changesRoutes.get('/', async (c) => {
  const site = c.get('site');
  const query = parseOr400(ChangesQuery, c.req.query(), 'the query');
  const after = query.after ? decodeCursor(FeedCursor, query.after)[0] : 0;
  const rows = await changesAfter(database(c.env.DB), site.id, after, query.limit);
  const last = rows.length ? rows[rows.length - 1]!.t.seq : after;
  // The cursor is returned even for an empty page: a poller keeps it and asks again later.
  return c.json({ items: rows.map(itemOf), nextCursor: encodeCursor([last]), hasMore: rows.length === query.limit });
});
