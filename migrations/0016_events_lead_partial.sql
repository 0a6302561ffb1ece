-- A lead's events index holds attributed events only: an anonymous event's entry (a NULL lead) was a
-- row written for nothing, 1 of the 3 an anonymous event cost. Queries by lead (`lead_id = ?`,
-- `lead_id IN (…)`) imply the condition and use it as before; anonymous events are found through
-- `events_site_visitor_anon`. Rebuilt from the table in one statement: on a database of several
-- million events, mind D1's 30 s a query (see docs/scale.md).
DROP INDEX `events_lead_ts`;--> statement-breakpoint
CREATE INDEX `events_lead_ts` ON `events` (`lead_id`,`ts`,`id`,`shape_id`) WHERE lead_id IS NOT NULL;
