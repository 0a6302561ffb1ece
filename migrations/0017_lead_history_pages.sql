-- A long lead history is paged: the lead's row keeps its newest events, `lead_history_pages` the
-- older ones, 5,000 pairs a page (`HISTORY_MAX`). A lead past that limit had a NULL history and
-- every reader read its events from the log, one index entry and one row each; it now reads one row
-- a page. `WITHOUT ROWID` by hand (drizzle-kit knows nothing of it): a page is one row written.
CREATE TABLE `lead_history_pages` (
	`lead_id` text NOT NULL,
	`page` integer NOT NULL,
	`history` text NOT NULL,
	PRIMARY KEY(`lead_id`, `page`),
	FOREIGN KEY (`lead_id`) REFERENCES `leads`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
ALTER TABLE `leads` ADD `history_pages` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
-- The leads whose history was NULL get theirs back from the log, all in pages, their row's own
-- history empty: the next event starts filling it. Pairs within a page are in no particular order.
INSERT INTO `lead_history_pages` (`lead_id`, `page`, `history`)
  SELECT `lead_id`, (`n` - 1) / 5000, group_concat(`ts` || ':' || `shape_id`, ',')
  FROM (
    SELECT `e`.`lead_id`, `e`.`ts`, `e`.`shape_id`, row_number() OVER (PARTITION BY `e`.`lead_id` ORDER BY `e`.`ts`, `e`.`id`) AS `n`
    FROM `leads` AS `l` JOIN `events` AS `e` ON `e`.`lead_id` = `l`.`id`
    WHERE `l`.`history` IS NULL
  )
  GROUP BY `lead_id`, (`n` - 1) / 5000;
--> statement-breakpoint
UPDATE `leads` SET `history` = '',
  `history_pages` = (SELECT count(*) FROM `lead_history_pages` AS `p` WHERE `p`.`lead_id` = `leads`.`id`)
  WHERE `history` IS NULL;
