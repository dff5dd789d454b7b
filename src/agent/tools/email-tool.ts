import { z } from "zod";
import { sendEmail } from "./sendgrid.ts";
import { ToolFailure, defineTool, excerpt } from "./tool-kit.ts";
import type { ToolEnv } from "./tool-kit.ts";

/** Vault keys the email tool reads server-side. */
export const EMAIL_CREDENTIALS = {
  apiKey: "SENDGRID_API_KEY",
  fromEmail: "SENDGRID_FROM_EMAIL",
  fromName: "SENDGRID_FROM_NAME",
} as const;

const email = z.email("must be an email address");
const recipients = z.union([email, z.array(email).min(1, "give at least one recipient").max(20, "at most 20 recipients")]);

export const sendEmailTool = defineTool({
  name: "send_email",
  title: "Send an email",
  maxCallsPerRun: 25,
  description:
    "Send an email on the business's behalf through its SendGrid account (the key stays on the server; you never " +
    "need it). From: the business's sender address. Give `text`, `html` or both. Example: {\"to\":\"supplier@example.com\"," +
    "\"subject\":\"Order for Friday\",\"text\":\"Hello, …\"}.",
  inputSchema: {
    to: recipients.describe("Recipient address, or a list of up to 20."),
    cc: z.array(email).max(20).optional().describe("Copy recipients."),
    reply_to: email.optional().describe("Where replies should go; default the sender."),
    subject: z.string().trim().min(1, "subject must not be empty").max(998, "subject must be at most 998 characters"),
    text: z.string().min(1).max(100_000).optional().describe("Plain-text body."),
    html: z.string().min(1).max(200_000).optional().describe("HTML body."),
  },
  async run(input, env) {
    if (input.text === undefined && input.html === undefined) throw new ToolFailure("Give the email a body: text, html or both.");
    const apiKey = await env.backends.getCredential(env.caller.tenantId, EMAIL_CREDENTIALS.apiKey);
    if (!apiKey) {
      throw new ToolFailure(
        "Email is not set up for this business: its SendGrid API key (SENDGRID_API_KEY) is missing. Ask the owner for a " +
          "SendGrid API key with Mail Send permission and ask the operator to add it as a credential; then try again.",
      );
    }
    env.redact(apiKey);
    const from = await senderOf(env);
    const to = typeof input.to === "string" ? [input.to] : input.to;
    const outcome = await sendEmail(env.sendgrid, apiKey, {
      from,
      to,
      ...(input.cc ? { cc: input.cc } : {}),
      ...(input.reply_to ? { replyTo: input.reply_to } : {}),
      subject: input.subject,
      ...(input.text !== undefined ? { text: input.text } : {}),
      ...(input.html !== undefined ? { html: input.html } : {}),
    });
    if (!outcome.ok) throw new ToolFailure(explainFailure(outcome.status, outcome.reason));
    return {
      text: `Email sent to ${to.join(", ")} from ${from.email} (subject "${input.subject}").`,
      timeline: `sent email to ${to.join(", ")}: "${excerpt(input.subject)}"`,
      fields: { recipients: to.length, status: outcome.status, messageId: outcome.messageId },
    };
  },
});

/** From: SENDGRID_FROM_EMAIL, else the profile's email; the name: SENDGRID_FROM_NAME, else the business name. */
async function senderOf(env: ToolEnv): Promise<{ email: string; name: string }> {
  const configured = await env.backends.getCredential(env.caller.tenantId, EMAIL_CREDENTIALS.fromEmail);
  const address = configured ?? env.tenant.business.email ?? null;
  if (!address || !email.safeParse(address).success) {
    throw new ToolFailure(
      "No sender address for this business's email: ask the operator to add SENDGRID_FROM_EMAIL (a sender verified in " +
        "SendGrid) as a credential, or save the business's email with update_business_profile if the owner gives it.",
    );
  }
  const name = (await env.backends.getCredential(env.caller.tenantId, EMAIL_CREDENTIALS.fromName)) ?? env.tenant.name;
  return { email: address, name };
}

function explainFailure(status: number | null, reason: string): string {
  if (status === 401 || status === 403) {
    return `SendGrid refused this business's API key (HTTP ${status}: ${reason}). Ask the operator to check SENDGRID_API_KEY and its Mail Send permission.`;
  }
  if (status === 429) return "SendGrid is rate-limiting this account; nothing was sent. Try again in a few minutes.";
  if (status === null || status >= 500) return `Nothing was sent: ${reason}. Try again later.`;
  return `SendGrid rejected the email (HTTP ${status}): ${reason}. Nothing was sent.`;
}
