/** @module `GET /v1/bands`: each band of the model with its nurturing branch and member count. */
import { Hono } from 'hono';
import { database } from '../db/client';
import { bandCounts } from '../db/leads';
import type { AppEnv } from '../env';

export const bandsRoutes = new Hono<AppEnv>();

bandsRoutes.get('/', async (c) => {
  const site = c.get('site');
  const counts = await bandCounts(database(c.env.DB), site.id);
  const countOf = (band: string) => counts.find((r) => r.band === band && !r.excluded)?.count ?? 0;
  const excluded = counts.filter((r) => r.excluded).reduce((n, r) => n + r.count, 0);
  const bands = site.model.bands.map((b, i) => ({
    name: b.name,
    min: b.min,
    max: site.model.bands[i + 1]?.min ?? null,
    branch: b.branch,
    description: b.description ?? null,
    count: countOf(b.name),
  }));
  return c.json({ bands, excluded: { count: excluded }, total: counts.reduce((n, r) => n + r.count, 0) });
});
