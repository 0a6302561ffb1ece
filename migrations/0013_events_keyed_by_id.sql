-- Events keyed by the client's id within the site, WITHOUT ROWID: the row is its own dedupe index
-- entry, so an event costs 2 rows written (3 while anonymous) instead of 4 or 5 (a rowid row, the
-- AUTOINCREMENT's sqlite_sequence row, the (site_id, id) unique index). `seq` goes: readers page by
-- (ts, id) and (visitor_id, ts, id), which the two indexes below hold in that order. The key leads
-- with the id so that the planner never walks a site's events by key (see worker/db/schema.ts).
-- drizzle-kit does not know WITHOUT ROWID: it is written here by hand.
--
-- No PRAGMA foreign_keys: D1 ignores it inside the migration's transaction, and nothing needs it
-- off. `events` only references (sites, leads); no table references `events`, so dropping it
-- deletes no other row and checks no constraint, and every copied row meets its references as it
-- did in the old table. The copy goes in key order, so the new table is built by appending.
CREATE TABLE `__new_events` (
	`site_id` text NOT NULL,
	`id` text NOT NULL,
	`visitor_id` text,
	`lead_id` text,
	`shape_id` integer NOT NULL,
	`ts` integer NOT NULL,
	`url` text,
	`title` text,
	`referrer` text,
	`received_at` integer NOT NULL,
	PRIMARY KEY(`id`, `site_id`),
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`lead_id`) REFERENCES `leads`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_events`("site_id", "id", "visitor_id", "lead_id", "shape_id", "ts", "url", "title", "referrer", "received_at")
SELECT "site_id", "id", "visitor_id", "lead_id", "shape_id", "ts", "url", "title", "referrer", "received_at" FROM `events` ORDER BY "id", "site_id";--> statement-breakpoint
DROP TABLE `events`;--> statement-breakpoint
ALTER TABLE `__new_events` RENAME TO `events`;--> statement-breakpoint
CREATE INDEX `events_lead_ts` ON `events` (`lead_id`,`ts`,`id`,`shape_id`);--> statement-breakpoint
CREATE INDEX `events_site_visitor_anon` ON `events` (`site_id`,`visitor_id`,`ts`,`id`,`shape_id`) WHERE lead_id IS NULL;
