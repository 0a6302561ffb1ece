-- A returning anonymous visitor's events and its visitor row, written by one statement: an INSERT
-- into this view stores each event as an INSERT into `events` would, and the row that carries the
-- visitor's times and pace (its `pace_count` not NULL) upserts the visitor as worker/ingest/
-- visitor-writes.ts does for an anonymous visitor. Collect wrote them as two statements, and every
-- statement costs D1 its own work: in bench:cost an anonymous page view's second statement was
-- most of what separated collect from the floor's rate. Only a write built on recalled state uses
-- it (worker/ingest/ingest.ts, `carriedVisitor`): its events are new or fail the batch, so the
-- trigger's INSERT has no conflict clause, and the event rows' shape id stays what fails a batch
-- whose checks do not hold.
CREATE VIEW `anonymous_event_writes` AS
SELECT `site_id`, `id`, `visitor_id`, `lead_id`, `shape_id`, `ts`, `url`, `title`, `referrer`, `received_at`,
  NULL AS `first_seen`, NULL AS `last_seen`, NULL AS `pace_start`, NULL AS `pace_count`
FROM `events` WHERE 0;--> statement-breakpoint
CREATE TRIGGER `anonymous_event_writes_insert` INSTEAD OF INSERT ON `anonymous_event_writes` BEGIN
  INSERT INTO `visitors` (`site_id`, `id`, `lead_id`, `first_seen`, `last_seen`, `pace_start`, `pace_count`, `robot_since`)
    SELECT NEW.`site_id`, NEW.`visitor_id`, NULL, NEW.`first_seen`, NEW.`last_seen`, NEW.`pace_start`, NEW.`pace_count`, NULL
    WHERE NEW.`pace_count` IS NOT NULL
    ON CONFLICT (`id`, `site_id`) DO UPDATE SET
      `first_seen` = min(`first_seen`, excluded.`first_seen`),
      `last_seen` = max(`last_seen`, excluded.`last_seen`),
      `pace_start` = excluded.`pace_start`,
      `pace_count` = excluded.`pace_count`;
  INSERT INTO `events` (`site_id`, `id`, `visitor_id`, `lead_id`, `shape_id`, `ts`, `url`, `title`, `referrer`, `received_at`)
    VALUES (NEW.`site_id`, NEW.`id`, NEW.`visitor_id`, NEW.`lead_id`, NEW.`shape_id`, NEW.`ts`, NEW.`url`, NEW.`title`, NEW.`referrer`, NEW.`received_at`);
END;
