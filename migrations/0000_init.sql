CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`site_id` text NOT NULL,
	`prefix` text NOT NULL,
	`hash` text NOT NULL,
	`name` text DEFAULT 'default' NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash_unique` ON `api_keys` (`hash`);--> statement-breakpoint
CREATE INDEX `api_keys_site` ON `api_keys` (`site_id`);--> statement-breakpoint
CREATE TABLE `events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`site_id` text NOT NULL,
	`id` text NOT NULL,
	`visitor_id` text,
	`lead_id` text,
	`type` text NOT NULL,
	`ts` integer NOT NULL,
	`url` text,
	`title` text,
	`referrer` text,
	`content_type` text,
	`props` text,
	`received_at` integer NOT NULL,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`lead_id`) REFERENCES `leads`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_site_id` ON `events` (`site_id`,`id`);--> statement-breakpoint
CREATE INDEX `events_lead_ts` ON `events` (`lead_id`,`ts`);--> statement-breakpoint
CREATE INDEX `events_site_visitor_anon` ON `events` (`site_id`,`visitor_id`) WHERE lead_id IS NULL;--> statement-breakpoint
CREATE TABLE `leads` (
	`id` text PRIMARY KEY NOT NULL,
	`site_id` text NOT NULL,
	`email` text NOT NULL,
	`profile` text NOT NULL,
	`fit` real DEFAULT 0 NOT NULL,
	`activity` real DEFAULT 0 NOT NULL,
	`engagement` real DEFAULT 0 NOT NULL,
	`score` real DEFAULT 0 NOT NULL,
	`band` text,
	`stage` text DEFAULT 'prospect' NOT NULL,
	`excluded_reason` text,
	`rev` integer DEFAULT 0 NOT NULL,
	`event_count` integer DEFAULT 0 NOT NULL,
	`last_event_at` integer,
	`scored_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `leads_site_email` ON `leads` (`site_id`,`email`);--> statement-breakpoint
CREATE INDEX `leads_site_band_score` ON `leads` (`site_id`,`band`,`score`);--> statement-breakpoint
CREATE INDEX `leads_site_score` ON `leads` (`site_id`,`score`);--> statement-breakpoint
CREATE TABLE `models` (
	`site_id` text NOT NULL,
	`version` integer NOT NULL,
	`document` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`created_by` text,
	PRIMARY KEY(`site_id`, `version`),
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `sites` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`site_key` text NOT NULL,
	`origins` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sites_site_key_unique` ON `sites` (`site_key`);--> statement-breakpoint
CREATE TABLE `transitions` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`site_id` text NOT NULL,
	`lead_id` text NOT NULL,
	`type` text NOT NULL,
	`from_value` text,
	`to_value` text,
	`reason` text,
	`branch` text,
	`cause` text NOT NULL,
	`at` integer NOT NULL,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `transitions_site_seq` ON `transitions` (`site_id`,`seq`);--> statement-breakpoint
CREATE INDEX `transitions_lead` ON `transitions` (`lead_id`,`seq`);--> statement-breakpoint
CREATE TABLE `visitors` (
	`site_id` text NOT NULL,
	`id` text NOT NULL,
	`lead_id` text,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	PRIMARY KEY(`site_id`, `id`),
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`lead_id`) REFERENCES `leads`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `visitors_lead` ON `visitors` (`lead_id`);--> statement-breakpoint
CREATE TABLE `write_conflicts` (
	`lead_id` text NOT NULL,
	CONSTRAINT "write_conflict" CHECK(0)
);
