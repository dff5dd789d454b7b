#!/usr/bin/env node
// The runbook's `node scripts/read-tenant.js …`: the same as `bun scripts/read-tenant.ts …`.
import { runWithBun } from "./bun-shim.js";

runWithBun("read-tenant");
