CREATE TABLE `app_state` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `conversation_sessions` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`agent_session_id` text,
	`lease_owner` text,
	`lease_expires_at` text,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `credentials` (
	`tenant_id` text NOT NULL,
	`key` text NOT NULL,
	`ciphertext` text NOT NULL,
	`iv` text NOT NULL,
	`tag` text NOT NULL,
	`key_version` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	PRIMARY KEY(`tenant_id`, `key`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `messages` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text,
	`direction` text NOT NULL,
	`channel` text NOT NULL,
	`chat_id` text NOT NULL,
	`external_id` text,
	`kind` text DEFAULT 'chat' NOT NULL,
	`sender` text,
	`body` text DEFAULT '' NOT NULL,
	`media` text,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`error` text,
	`task_id` text,
	`reply_to` text,
	`next_attempt_at` text,
	`lease_owner` text,
	`lease_expires_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`processed_at` text,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `messages_channel_external_id_unique` ON `messages` (`channel`,`external_id`) WHERE direction = 'in';--> statement-breakpoint
CREATE INDEX `messages_tenant_status_idx` ON `messages` (`tenant_id`,`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `messages_tenant_created_idx` ON `messages` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `messages_outbox_idx` ON `messages` (`direction`,`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `messages_rate_idx` ON `messages` (`channel`,`chat_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `scheduled_tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`prompt` text NOT NULL,
	`cron` text,
	`run_at` text,
	`timezone` text DEFAULT 'UTC' NOT NULL,
	`next_run_at` text,
	`status` text DEFAULT 'PENDING' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`created_by` text NOT NULL,
	`paused` integer DEFAULT false NOT NULL,
	`slot_at` text,
	`claimed_at` text,
	`last_run_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `scheduled_tasks_due_idx` ON `scheduled_tasks` (`status`,`next_run_at`);--> statement-breakpoint
CREATE INDEX `scheduled_tasks_tenant_idx` ON `scheduled_tasks` (`tenant_id`,`status`);--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`phone_number` text NOT NULL,
	`channel` text NOT NULL,
	`telegram_chat_id` text,
	`status` text DEFAULT 'ACTIVE' NOT NULL,
	`onboarding_status` text DEFAULT 'DISCOVERY' NOT NULL,
	`timezone` text DEFAULT 'UTC' NOT NULL,
	`business` text DEFAULT '{}' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tenants_phone_number_unique` ON `tenants` (`phone_number`);--> statement-breakpoint
CREATE UNIQUE INDEX `tenants_telegram_chat_id_unique` ON `tenants` (`telegram_chat_id`);--> statement-breakpoint
CREATE INDEX `tenants_status_idx` ON `tenants` (`status`,`onboarding_status`);