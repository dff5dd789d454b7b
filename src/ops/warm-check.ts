import { totalmem } from "node:os";
import { WARM_BLOCKED_FIX, warmBlockingArg } from "../agent/index.ts";
import type { Config } from "../config.ts";
import { WARM_PROCESS_BUDGET_BYTES } from "../config.ts";

/** A doctor line (the shape of DoctorCheck in doctor.ts, which calls this). */
interface WarmCheck {
  name: string;
  status: "ok" | "warn";
  detail: string;
  fix?: string;
}

const ok = (name: string, detail: string): WarmCheck => ({ name, status: "ok", detail });
const warn = (name: string, detail: string, fix: string): WarmCheck => ({ name, status: "warn", detail, fix });

const MIB = 1024 * 1024;

/** Explains the warm pool's settings (AGENT_WARM, AGENT_WARM_MAX, AGENT_WARM_IDLE_MS) against this machine's memory. */
export function checkWarmPool(config: Config, totalBytes: number = totalmem()): WarmCheck {
  if (config.AGENT_WARM === "off")
    return ok("warm agents", "off (AGENT_WARM=off): every message starts a cold `claude -p` (~0.6–1 s more per reply)");
  const blocking = warmBlockingArg(config.AGENT_ARGS);
  if (blocking)
    return warn(
      "warm agents",
      `off: AGENT_ARGS sets ${blocking}, which a warm process (stream-json in and out) cannot use; every message starts a cold \`claude -p\``,
      WARM_BLOCKED_FIX,
    );
  const budgetMb = Math.round((config.AGENT_WARM_MAX * WARM_PROCESS_BUDGET_BYTES) / MIB);
  const totalMb = Math.round(totalBytes / MIB);
  const detail =
    `on: up to AGENT_WARM_MAX=${config.AGENT_WARM_MAX} warm CLI processes (one per recently active tenant, ~400 MB ` +
    `each budgeted: ${budgetMb} MB of ${totalMb} MB), retired after AGENT_WARM_IDLE_MS=${config.AGENT_WARM_IDLE_MS} ms idle, ` +
    `least recently used first when full; AGENT_MAX_CONCURRENCY=${config.AGENT_MAX_CONCURRENCY} turns at once`;
  if (config.AGENT_WARM_MAX * WARM_PROCESS_BUDGET_BYTES > totalBytes)
    return warn(
      "warm agents",
      `${detail}: more than this machine's memory`,
      "lower AGENT_WARM_MAX (or unset it: the default is sized to the memory)",
    );
  return ok("warm agents", detail);
}
