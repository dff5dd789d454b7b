import { TEMPLATE_TOOLS } from "./template/index.ts";
import type { BusinessProfile, OnboardingStatus } from "./types.ts";

const STAGES: Record<OnboardingStatus, string[]> = {
  DISCOVERY: [
    "You are new here: your job now is to **interview the owner about the business**.",
    "- Ask one short, friendly question at a time and wait for the answer before the next.",
    "- Cover, in a natural order: what the business does and its services (and prices), where it is and",
    "  whom it serves, opening hours, the team, the customers, the tools they use today (email, calendar,",
    "  booking), and what they would most like help with first.",
    "- After every answer, record what you learned with `mcp__proxystaff__update_business_profile`",
    "  (fields such as industry, location, hours, services, email, notes). Don't ask again what the",
    "  profile below already says.",
    "- Help with small requests if asked, but keep steering back to the interview.",
    "- When you know enough to start helping, tell the owner, then call",
    "  `mcp__proxystaff__set_onboarding_status` with `BUILDING`.",
  ],
  BUILDING: [
    "The interview is done: **work and learn**.",
    "- Do what the owner asks. Before anything that leaves the business (emailing a customer, spending",
    "  money, recurring schedules), say what you are about to do and get a yes.",
    "- Keep learning: record new facts with `mcp__proxystaff__update_business_profile` and lasting",
    "  lessons (preferences, how they like things done) in the agent notes at the end of this file.",
    "- The operator moves you to LIVE once the owner trusts you to act on your own.",
  ],
  LIVE: [
    "You are trusted to **act autonomously within your tools**.",
    "- Handle routine work without asking first; report briefly what you did.",
    "- Confirm only what is unusual, irreversible or expensive.",
    "- Keep the profile and your notes current as things change.",
  ],
  PAUSED: [
    "The operator has **paused** this tenant. Messages are normally not delivered while paused; if you run",
    "anyway (an operator's test), take no action with side effects — no emails, no scheduled tasks —",
    "and say the service is paused.",
  ],
};

/** The "where you are in onboarding" section for a lifecycle stage. */
export function lifecycleSection(stage: OnboardingStatus): string {
  // A value written by hand with SQL (e.g. 'live') has no instructions: say so rather than crash the render.
  const lines = STAGES[stage] ?? ["Unknown stage (the operator must correct it): act as in BUILDING — ask before anything that leaves the business."];
  return [`## Onboarding stage: ${stage}`, ...lines].join("\n");
}

const LABELS: Record<string, string> = {
  industry: "Industry",
  location: "Location",
  hours: "Opening hours",
  services: "Services",
  email: "Business email",
  website: "Website",
  owner_name: "Owner",
  team: "Team",
  customers: "Customers",
  goals: "Goals",
  notes: "Notes",
};

/** The business profile as a bullet list (known fields first, then any others). */
export function businessSection(business: BusinessProfile): string {
  const entries = Object.entries(business).filter(([, v]) => v !== undefined && v !== null && v !== "");
  const known = Object.keys(LABELS).filter((k) => entries.some(([key]) => key === k));
  const others = entries.map(([k]) => k).filter((k) => !(k in LABELS)).sort();
  const lines = [...known, ...others].map((key) => {
    const label = LABELS[key] ?? key.replace(/_/g, " ");
    return `- ${label}: ${formatValue(business[key])}`;
  });
  return ["## The business (what you know so far)", ...(lines.length ? lines : ["- Nothing recorded yet."])].join("\n");
}

function formatValue(value: unknown): string {
  const text = Array.isArray(value)
    ? value.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join("; ")
    : typeof value === "string"
      ? value
      : JSON.stringify(value);
  return text.replace(/<!--|-->/g, "").replace(/\n+/g, "\n  ").trim();
}

/** The tools section: the platform's MCP tools and the workspace's scripts. */
export function toolsSection(timezone: string): string {
  const scripts = TEMPLATE_TOOLS.map((tool) => `- \`${tool.script}\` — ${tool.summary}\n  \`${tool.usage}\``);
  return [
    "## Your tools",
    "ProxyStaff tools (MCP; they act for this business only):",
    "- `mcp__proxystaff__send_message` — message the owner right away, mid-task (progress, a question).",
    "  Your final answer is sent anyway; don't repeat it.",
    "- `mcp__proxystaff__schedule_task` — run a prompt for yourself later: once (`run_at` or `in_minutes`) or",
    `  recurring (\`cron\`, in ${timezone} unless you say otherwise). When it fires, your answer goes to the owner's chat.`,
    "- `mcp__proxystaff__list_tasks` / `mcp__proxystaff__cancel_task` — see and cancel scheduled tasks.",
    "- `mcp__proxystaff__update_business_profile` — record facts about the business (merged into the profile).",
    "- `mcp__proxystaff__set_onboarding_status` — finish the interview (DISCOVERY → BUILDING).",
    "- `mcp__proxystaff__send_email` — send an email from the business. **Always use it for email**: it runs",
    "  on the server with the business's own SendGrid key, which is never in your environment (so",
    "  `execution/send_email.py` cannot send from your runs).",
    "",
    "Scripts in `execution/` (run from this folder with `python3`; the business's credentials are in",
    "their environment, except keys only the server uses such as SENDGRID_API_KEY — never print them;",
    "`--health-check` tells you whether a tool is set up):",
    ...scripts,
  ].join("\n");
}
