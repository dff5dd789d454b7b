export type { OwnedTenant } from "./ownership.ts";
export {
  assertOwnedHere,
  isOwnedHere,
  isRemoteDatabase,
  ownerScope,
  WrongInstanceError,
  wrongInstance,
} from "./ownership.ts";
export type { InstanceInfo } from "./registry.ts";
export { DOWN_AFTER_MS, getInstance, HEARTBEAT_MS, listInstances } from "./registry.ts";
export type { InstanceService, InstanceServiceDeps } from "./service.ts";
export { createInstanceService, instanceUrl } from "./service.ts";
