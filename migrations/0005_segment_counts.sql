CREATE TABLE `band_daily` (
	`site_id` text NOT NULL,
	`day` text NOT NULL,
	`band` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`site_id`, `day`, `band`),
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `segment_counts` (
	`site_id` text NOT NULL,
	`kind` text NOT NULL,
	`key` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`site_id`, `kind`, `key`),
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
-- Counters start from the leads already stored (the same buckets as worker/segments/buckets.ts).
INSERT INTO `segment_counts` (`site_id`, `kind`, `key`, `count`)
SELECT `site_id`, 'band', coalesce(`band`, ''), count(*) FROM `leads` GROUP BY `site_id`, coalesce(`band`, '');
--> statement-breakpoint
INSERT INTO `segment_counts` (`site_id`, `kind`, `key`, `count`)
SELECT `site_id`, 'score', CAST((CAST(`score` / 5 AS INTEGER) - (`score` < 0 AND `score` / 5 <> CAST(`score` / 5 AS INTEGER))) * 5 AS TEXT), count(*)
FROM `leads` WHERE `band` IS NOT NULL GROUP BY 1, 3;
