CREATE TABLE `feedback` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`site_id` text NOT NULL,
	`lead_id` text NOT NULL,
	`fit` text,
	`outcome` text,
	`note` text,
	`created_at` integer NOT NULL,
	`created_by` text,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`lead_id`) REFERENCES `leads`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `feedback_lead` ON `feedback` (`lead_id`,`seq`);--> statement-breakpoint
CREATE TABLE `recomputes` (
	`id` text PRIMARY KEY NOT NULL,
	`site_id` text NOT NULL,
	`model_version` integer NOT NULL,
	`status` text DEFAULT 'running' NOT NULL,
	`cursor` text DEFAULT '' NOT NULL,
	`total` integer NOT NULL,
	`processed` integer DEFAULT 0 NOT NULL,
	`changed` integer DEFAULT 0 NOT NULL,
	`lease_until` integer,
	`started_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `recomputes_site` ON `recomputes` (`site_id`,`started_at`);--> statement-breakpoint
CREATE INDEX `recomputes_status` ON `recomputes` (`status`);--> statement-breakpoint
ALTER TABLE `leads` ADD `model_version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `leads` ADD `next_change_at` integer;--> statement-breakpoint
ALTER TABLE `leads` ADD `recycled_at` integer;--> statement-breakpoint
CREATE INDEX `leads_next_change` ON `leads` (`next_change_at`) WHERE next_change_at IS NOT NULL;