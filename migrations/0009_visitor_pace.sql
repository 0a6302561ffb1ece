ALTER TABLE `visitors` ADD `pace_start` integer;--> statement-breakpoint
ALTER TABLE `visitors` ADD `pace_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `visitors` ADD `robot_since` integer;