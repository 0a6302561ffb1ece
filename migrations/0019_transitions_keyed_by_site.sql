-- Transitions keyed by (site, seq) WITHOUT ROWID: the row is the changes feed's entry. A change
-- cost its rowid row, its (site_id, seq) and (lead_id, seq) entries, and a stage change its stage
-- index entry too, besides the AUTOINCREMENT's sqlite_sequence row once a statement: 4 rows for a
-- band change alone, 8 for a band and a stage change together. Each change is now its row and one
-- index entry, 2 rows: the lead index leaves stage changes to the stage index, which holds them by
-- lead too (see worker/db/lead-transitions.ts). `seq` becomes the site's own count, each new change
-- numbered after the site's newest (worker/db/transition-seq.ts). drizzle-kit does not know
-- WITHOUT ROWID: it is written here by hand.
--
-- A site's numbers go on from where the shared sequence stood, not from its newest row: an erasure
-- may have deleted the rows it numbered last, and a poller's cursor may stand on one of them, so a
-- number handed out again would be skipped by it. Each site behind the sequence gets a blank row
-- (lead '', type 'erased', the form an erasure now leaves, which no reader shows) at the sequence's
-- number, from which the next is counted.
--
-- No PRAGMA foreign_keys: D1 ignores it inside the migration's transaction, and nothing needs it
-- off. `transitions` only references `sites`; no table references `transitions`, so dropping it
-- deletes no other row. The copy goes in key order, so the new table is built by appending.
CREATE TABLE `__new_transitions` (
	`site_id` text NOT NULL,
	`seq` integer NOT NULL,
	`lead_id` text NOT NULL,
	`type` text NOT NULL,
	`from_value` text,
	`to_value` text,
	`reason` text,
	`branch` text,
	`cause` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`site_id`, `seq`),
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_transitions`("site_id", "seq", "lead_id", "type", "from_value", "to_value", "reason", "branch", "cause", "at")
SELECT "site_id", "seq", "lead_id", "type", "from_value", "to_value", "reason", "branch", "cause", "at" FROM `transitions` ORDER BY "site_id", "seq";--> statement-breakpoint
INSERT INTO `__new_transitions`("site_id", "seq", "lead_id", "type", "cause", "at")
SELECT s."id", q."seq", '', 'erased', 'erasure', 0 FROM `sites` AS s, `sqlite_sequence` AS q
WHERE q."name" = 'transitions' AND q."seq" > coalesce((SELECT max(t."seq") FROM `transitions` AS t WHERE t."site_id" = s."id"), 0);--> statement-breakpoint
DROP TABLE `transitions`;--> statement-breakpoint
ALTER TABLE `__new_transitions` RENAME TO `transitions`;--> statement-breakpoint
CREATE INDEX `transitions_lead` ON `transitions` (`lead_id`,`seq`) WHERE type <> 'lead.stage_changed';--> statement-breakpoint
CREATE INDEX `transitions_site_stage` ON `transitions` (`site_id`,`to_value`,`lead_id`,`at`) WHERE type = 'lead.stage_changed';
