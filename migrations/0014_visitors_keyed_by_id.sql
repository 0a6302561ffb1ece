-- Visitors keyed by (id, site_id) WITHOUT ROWID, as events are (0013): a new visitor is one row
-- written instead of a rowid row and the (site_id, id) key's index entry. The lead index keeps
-- identified visitors only, so an anonymous visitor's upsert writes its row alone. drizzle-kit does
-- not know WITHOUT ROWID: it is written here by hand (see worker/db/schema.ts).
--
-- No PRAGMA foreign_keys: D1 ignores it inside the migration's transaction, and nothing needs it
-- off. `visitors` only references (sites, leads); no table references `visitors`, so dropping it
-- deletes no other row and checks no constraint. The copy goes in key order.
CREATE TABLE `__new_visitors` (
	`site_id` text NOT NULL,
	`id` text NOT NULL,
	`lead_id` text,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	`pace_start` integer,
	`pace_count` integer DEFAULT 0 NOT NULL,
	`robot_since` integer,
	PRIMARY KEY(`id`, `site_id`),
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`lead_id`) REFERENCES `leads`(`id`) ON UPDATE no action ON DELETE set null
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_visitors`("site_id", "id", "lead_id", "first_seen", "last_seen", "pace_start", "pace_count", "robot_since")
SELECT "site_id", "id", "lead_id", "first_seen", "last_seen", "pace_start", "pace_count", "robot_since" FROM `visitors` ORDER BY "id", "site_id";--> statement-breakpoint
DROP TABLE `visitors`;--> statement-breakpoint
ALTER TABLE `__new_visitors` RENAME TO `visitors`;--> statement-breakpoint
CREATE INDEX `visitors_lead` ON `visitors` (`lead_id`) WHERE lead_id IS NOT NULL;
