CREATE TABLE `robot_daily` (
	`site_id` text NOT NULL,
	`day` text NOT NULL,
	`requests` integer NOT NULL,
	`events` integer NOT NULL,
	PRIMARY KEY(`site_id`, `day`),
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
