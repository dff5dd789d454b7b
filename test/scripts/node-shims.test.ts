// The runbook's `node scripts/read-tenant.js <id>` and `node scripts/read-messages.js` run the Bun commands.
import { afterAll, describe, expect, test } from "bun:test";
import { printedTenantId, runbookEnv } from "../cli/runbook-support.ts";
import { REPO_ROOT, runProcess } from "../helpers/index.ts";

const node = Bun.which("node");
const rb = runbookEnv();
afterAll(() => rb.cleanup());

function runNode(script: string, args: string[]) {
  return runProcess([node ?? "node", `scripts/${script}`, ...args], { cwd: REPO_ROOT, env: rb.env });
}

describe.if(node !== null)("node scripts/*.js (the runbook's Monitoring lines)", () => {
  test("read-tenant.js and read-messages.js print what the .ts commands print, with their exit codes", async () => {
    const created = await rb.run("create-tenant", [
      "--name",
      "Shim Bakery",
      "--phone",
      "+18015550177",
      "--channel",
      "telegram",
    ]);
    const id = printedTenantId(created.stdout);
    const tenant = await runNode("read-tenant.js", [id]);
    expect(tenant.code).toBe(0);
    expect(tenant.stdout).toContain("Name:        Shim Bakery");
    const messages = await runNode("read-messages.js", []);
    expect(messages).toMatchObject({ code: 0, stdout: "No messages yet.\n" });
    expect((await runNode("read-tenant.js", [])).code).toBe(2);
  });
});
