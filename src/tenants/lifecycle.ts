import { ConflictError } from "../errors.ts";
import type { OnboardingStatus } from "./types.ts";

/** Who asks for a lifecycle change: the operator (CLI, admin API) or the tenant's agent (MCP tool). */
export type LifecycleActor = "operator" | "agent";

const ORDER: Record<Exclude<OnboardingStatus, "PAUSED">, number> = { DISCOVERY: 0, BUILDING: 1, LIVE: 2 };

/**
 * Checks a lifecycle move and throws ConflictError `invalid_transition` with the reason when it
 * is not allowed. Rules: staying put is fine; DISCOVERY → BUILDING → LIVE forward (an operator
 * may skip BUILDING); PAUSED from any state and from PAUSED back to any; moving backwards
 * (e.g. LIVE → DISCOVERY) is an operator decision taken through PAUSED. The agent may only
 * move DISCOVERY → BUILDING (it decides when its interview is done).
 */
export function assertTransition(from: OnboardingStatus, to: OnboardingStatus, by: LifecycleActor): void {
  if (from === to) return;
  if (by === "agent") {
    if (from === "DISCOVERY" && to === "BUILDING") return;
    throw refused(from, to, "the agent may only move a tenant from DISCOVERY to BUILDING; ask the operator");
  }
  if (to === "PAUSED" || from === "PAUSED") return;
  if (ORDER[to] > ORDER[from]) return;
  throw refused(from, to, `moving back restarts onboarding; set PAUSED first, then ${to}, if that is intended`);
}

/** True when assertTransition would accept the move. */
export function canTransition(from: OnboardingStatus, to: OnboardingStatus, by: LifecycleActor): boolean {
  try {
    assertTransition(from, to, by);
    return true;
  } catch {
    return false; // the refusal is the answer
  }
}

function refused(from: OnboardingStatus, to: OnboardingStatus, why: string): ConflictError {
  return new ConflictError("invalid_transition", `Cannot change onboarding status from ${from} to ${to}: ${why}.`);
}
