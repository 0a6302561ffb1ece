ALTER TABLE `leads` ADD `history` text DEFAULT '';--> statement-breakpoint
-- Existing leads get their events packed; those with more than db/lead-history's HISTORY_MAX get
-- NULL, and are read from the events table as before.
UPDATE `leads` SET `history` = (
  SELECT CASE WHEN count(*) <= 5000 THEN coalesce(group_concat(`ts` || ':' || `shape_id`, ','), '') END
  FROM `events` WHERE `events`.`lead_id` = `leads`.`id`
);
