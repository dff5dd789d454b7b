import { z } from "zod";
import { ONBOARDING_STATUSES } from "../../db/schema.ts";
import { ToolFailure, defineTool } from "./tool-kit.ts";

const fieldName = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "field names are lower_snake_case, up to 64 characters");
const fieldValue = z.union([
  z.string().max(2000, "a text value is at most 2000 characters"),
  z.number(),
  z.boolean(),
  z.array(z.string().max(500)).max(50),
  z.null(),
]);

export const updateBusinessProfileTool = defineTool({
  name: "update_business_profile",
  title: "Update the business profile",
  description:
    "Save what you learned about the business. The fields are merged into the profile (other fields stay); a null " +
    "value removes a field. Your standing instructions (CLAUDE.md) are re-written from it. Common fields: industry, " +
    "location, hours, services, email (the address emails are sent from), phone, website, owner_name, notes. " +
    "Example: {\"fields\":{\"industry\":\"bakery\",\"hours\":\"Tue-Sat 7-15\"}}.",
  inputSchema: {
    fields: z
      .record(fieldName, fieldValue)
      .refine((f) => Object.keys(f).length > 0, "give at least one field")
      .refine((f) => Object.keys(f).length <= 30, "at most 30 fields per call")
      .describe("Profile fields to set (null removes one)."),
  },
  async run(input, env) {
    const email = input.fields.email;
    if (typeof email === "string" && !z.email().safeParse(email).success) {
      throw new ToolFailure(`email must be an email address (got "${email}").`);
    }
    const updated = await env.backends.updateBusiness(env.caller.tenantId, input.fields);
    const changed = Object.keys(input.fields);
    return {
      text: `Saved. The business profile is now:\n${JSON.stringify(updated.business, null, 2)}`,
      timeline: `updated the business profile (${changed.join(", ")})`,
      fields: { changed },
    };
  },
});

export const setOnboardingStatusTool = defineTool({
  name: "set_onboarding_status",
  title: "Move onboarding forward",
  description:
    "Record that discovery is finished: move the business from DISCOVERY to BUILDING. LIVE and PAUSED are set by " +
    "the operator only; when you are ready to go live, tell the owner and the operator.",
  inputSchema: {
    status: z.enum(ONBOARDING_STATUSES).describe("The new status; the agent may only set BUILDING (from DISCOVERY)."),
  },
  async run(input, env) {
    const current = env.tenant.onboarding_status;
    if (input.status === current) {
      return { text: `The status is already ${current}; nothing changed.`, timeline: `onboarding status already ${current}` };
    }
    if (input.status === "LIVE" || input.status === "PAUSED") {
      throw new ToolFailure(`Only the operator can set ${input.status}. Tell the owner what is ready; the operator switches the business ${input.status === "LIVE" ? "live" : "to paused"}.`);
    }
    if (!(current === "DISCOVERY" && input.status === "BUILDING")) {
      throw new ToolFailure(`The agent may only move DISCOVERY → BUILDING; the status is ${current}, so ask the operator.`);
    }
    await env.backends.setOnboardingStatus(env.caller.tenantId, "BUILDING");
    return { text: "Onboarding status is now BUILDING.", timeline: "moved onboarding DISCOVERY → BUILDING" };
  },
});
