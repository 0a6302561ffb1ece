-- Events become (shape, time) against a per-site dictionary of event shapes: what rules test of an
-- event (type, URL, content type, properties) is stored once per site, and each event keeps its
-- shape's id, its time and what only it has (id, visitor, lead, full URL, title, referrer).
-- Existing events keep their full URL in their shape, as SQLite cannot cut a URL down to its path
-- and utm_campaign the way the worker does (`shapeOf`): new events of the same pages get shapes of
-- their own beside them, which rules meet alike.
CREATE TABLE `event_shapes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`site_id` text NOT NULL,
	`key` text NOT NULL,
	`type` text NOT NULL,
	`url` text,
	`content_type` text,
	`props` text,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `event_shapes_site_key` ON `event_shapes` (`site_id`,`key`);--> statement-breakpoint
-- Grouped by key, not DISTINCT on the columns: two spellings of the same properties are one shape.
INSERT INTO `event_shapes` (`site_id`, `key`, `type`, `url`, `content_type`, `props`)
SELECT `site_id`, `k`, `type`, `url`, `content_type`, json(`props`)
FROM (SELECT `site_id`, json_array(`type`, `url`, `content_type`, json(`props`)) AS `k`, `type`, `url`, `content_type`, `props` FROM `events`)
GROUP BY `site_id`, `k`;
--> statement-breakpoint
CREATE TABLE `__new_events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
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
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`lead_id`) REFERENCES `leads`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_events` (`seq`, `site_id`, `id`, `visitor_id`, `lead_id`, `shape_id`, `ts`, `url`, `title`, `referrer`, `received_at`)
SELECT e.`seq`, e.`site_id`, e.`id`, e.`visitor_id`, e.`lead_id`, s.`id`, e.`ts`, e.`url`, e.`title`, e.`referrer`, e.`received_at`
FROM `events` AS e
JOIN `event_shapes` AS s ON s.`site_id` = e.`site_id` AND s.`key` = json_array(e.`type`, e.`url`, e.`content_type`, json(e.`props`));
--> statement-breakpoint
DROP TABLE `events`;--> statement-breakpoint
ALTER TABLE `__new_events` RENAME TO `events`;--> statement-breakpoint
CREATE UNIQUE INDEX `events_site_id` ON `events` (`site_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_lead_ts` ON `events` (`lead_id`,`ts`,`shape_id`);--> statement-breakpoint
CREATE INDEX `events_site_visitor_anon` ON `events` (`site_id`,`visitor_id`,`shape_id`) WHERE lead_id IS NULL;
