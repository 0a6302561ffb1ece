-- The segment counters packed into one JSON row a site, {"band": {band: n}, "score": {bucket: n}}:
-- a lead that changes score bucket writes that row once, where it wrote a counter row on each side
-- (four on a band change). WITHOUT ROWID, by hand as in 0013 and 0014 (drizzle-kit does not know
-- it): a site's first counters are one row written, not a rowid row and its key's index entry.
-- The counters are copied as they stand; the daily recount heals them as before.
CREATE TABLE `segment_histograms` (
	`site_id` text PRIMARY KEY NOT NULL,
	`counts` text NOT NULL,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `segment_histograms` (`site_id`, `counts`)
SELECT s.site_id, json_object(
	'band', json((SELECT json_group_object(c.key, c.count) FROM `segment_counts` AS c WHERE c.site_id = s.site_id AND c.kind = 'band')),
	'score', json((SELECT json_group_object(c.key, c.count) FROM `segment_counts` AS c WHERE c.site_id = s.site_id AND c.kind = 'score')))
FROM (SELECT DISTINCT site_id FROM `segment_counts`) AS s;--> statement-breakpoint
DROP TABLE `segment_counts`;
