import envLoaderPy from "./execution/env_loader.py" with { type: "text" };
import sendEmailPy from "./execution/send_email.py" with { type: "text" };

/**
 * The workspace template, embedded in the binary: every file of `execution/` by name.
 * Nothing here is read from the source tree at run time.
 */
export const TEMPLATE_EXECUTION_FILES: Readonly<Record<string, string>> = Object.freeze({
  "env_loader.py": envLoaderPy,
  "send_email.py": sendEmailPy,
});

/** A runnable tool script of the template and what it needs. */
export interface TemplateTool {
  /** File name under `execution/`. */
  script: string;
  /** One line for CLAUDE.md and the validation checklist. */
  summary: string;
  /** How the agent runs it (from the workspace folder). */
  usage: string;
  /** Credential keys the tool cannot work without (vault or `.env`). */
  credentials: readonly string[];
  /** Keys it uses when present. */
  optionalCredentials: readonly string[];
}

/** The template's tools; each supports `python3 execution/<script> --health-check`. */
export const TEMPLATE_TOOLS: readonly TemplateTool[] = Object.freeze([
  {
    script: "send_email.py",
    summary:
      "Send an email through SendGrid with a key in its own environment. Not for you: SENDGRID_API_KEY is kept out of your runs, so send email with `mcp__proxystaff__send_email`.",
    usage:
      'python3 execution/send_email.py --to someone@example.com --subject "…" --text "…" [--html "…"] [--from you@business.com]',
    credentials: ["SENDGRID_API_KEY"],
    optionalCredentials: ["SENDGRID_FROM_EMAIL", "SENDGRID_API_BASE"],
  },
  {
    script: "env_loader.py",
    summary: "Loads the workspace .env into a tool's environment (imported by the other tools).",
    usage: "from env_loader import load_env_from_cwd; load_env_from_cwd()",
    credentials: [],
    optionalCredentials: [],
  },
]);

/** The comment-only `.env` a new workspace starts with. */
export const WORKSPACE_ENV_FILE = `# Local overrides for this tenant's tools, KEY=value per line.
# Prefer the credentials vault (POST /admin/tenants/<id>/credentials): values there are encrypted
# and win over this file when both set the same key.
`;
