/** @module Robots' requests and events, counted per site and day in one upsert. */
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/client';
import { robotDaily } from '../db/schema';
import { dayOf } from '../lib/day';

export const countRobot = (db: Database, siteId: string, events: number | SQL<number>, now: number) =>
  db
    .insert(robotDaily)
    .values({ siteId, day: dayOf(now), requests: 1, events })
    .onConflictDoUpdate({
      target: [robotDaily.siteId, robotDaily.day],
      set: { requests: sql`${robotDaily.requests} + 1`, events: sql`${robotDaily.events} + excluded.events` },
    });
