ALTER TABLE `tenants` ADD `uid` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `tenants_uid_unique` ON `tenants` (`uid`);--> statement-breakpoint
-- Existing tenants get distinct uids from 200000 on, in creation order (TENANT_UID_BASE in src/agent/run-user.ts).
UPDATE `tenants` SET `uid` = 200000 + (SELECT COUNT(*) FROM `tenants` AS `t2` WHERE `t2`.`rowid` < `tenants`.`rowid`) WHERE `uid` IS NULL;
