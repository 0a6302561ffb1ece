/** @module The events the engine needs for a set of leads, grouped by lead, in one query. */
import type { Database } from './client';
import { inJson } from './client';
import { events } from './schema';
import type { ScoringEvent } from '../scoring/types';

export async function eventsByLead(db: Database, leadIds: readonly string[]): Promise<Map<string, ScoringEvent[]>> {
  const rows = await db
    .select({ leadId: events.leadId, id: events.id, type: events.type, ts: events.ts, url: events.url, contentType: events.contentType, props: events.props })
    .from(events)
    .where(inJson(events.leadId, leadIds));
  const out = new Map<string, ScoringEvent[]>(leadIds.map((id) => [id, []]));
  for (const { leadId, ...e } of rows) out.get(leadId!)?.push(e);
  return out;
}
