#!/usr/bin/env node
// The runbook's `node scripts/read-messages.js …`: the same as `bun scripts/read-messages.ts …`.
import { runWithBun } from "./bun-shim.js";

runWithBun("read-messages");
