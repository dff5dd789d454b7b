CREATE TABLE `instances` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text,
	`version` text,
	`started_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`last_seen_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `model_usage` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`run_id` text,
	`model` text NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`cache_creation_input_tokens` integer DEFAULT 0 NOT NULL,
	`cache_read_input_tokens` integer DEFAULT 0 NOT NULL,
	`cost_usd` real DEFAULT 0 NOT NULL,
	`status` integer NOT NULL,
	`day` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `model_usage_tenant_day_idx` ON `model_usage` (`tenant_id`,`day`);--> statement-breakpoint
CREATE INDEX `model_usage_day_idx` ON `model_usage` (`day`);--> statement-breakpoint
ALTER TABLE `messages` ADD `delivery_status` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `error_code` text;--> statement-breakpoint
ALTER TABLE `scheduled_tasks` ADD `catch_up_window_s` integer DEFAULT 3600 NOT NULL;--> statement-breakpoint
ALTER TABLE `tenants` ADD `monthly_budget_usd` real;--> statement-breakpoint
ALTER TABLE `tenants` ADD `instance_id` text;--> statement-breakpoint
CREATE INDEX `tenants_instance_idx` ON `tenants` (`instance_id`);