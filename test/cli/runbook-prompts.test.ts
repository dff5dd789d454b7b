import { expect, test } from "bun:test";
import type { CommandIO } from "../../src/cli/command.ts";
import { tenantCommands } from "../../src/cli/tenant-commands.ts";
import { findTenantByPhone } from "../../src/tenants/index.ts";
import { useTestContext } from "../helpers/index.ts";

const t = useTestContext();

/** A terminal that answers the prompts in order. */
function terminal(answers: string[]): CommandIO & { lines: string[]; prompts: string[] } {
  const lines: string[] = [];
  const prompts: string[] = [];
  return {
    lines,
    prompts,
    out: (l) => lines.push(l),
    err: (l) => lines.push(l),
    env: {},
    isInteractive: true,
    readLine: async (prompt) => {
      prompts.push(prompt);
      return answers.shift() ?? null;
    },
  };
}

const command = (name: string) => {
  const found = tenantCommands.find((c) => c.name === name);
  if (!found) throw new Error(`no command ${name}`);
  return found;
};

test("create-tenant on a terminal asks only for the missing fields", async () => {
  const io = terminal(["+1 801 555 0142", "whatsapp", "Europe/London"]);
  expect(await command("create-tenant").run(["--name", "Prompted Co"], io, t.ctx)).toBe(0);
  expect(io.prompts.map((p) => p.split(" ")[0])).toEqual(["Owner's", "Channel", "Time"]);
  const tenant = await findTenantByPhone(t.ctx.db, "+18015550142");
  expect(tenant).toMatchObject({ name: "Prompted Co", channel: "whatsapp", timezone: "Europe/London" });
  expect(io.lines.join("\n")).toContain("send any WhatsApp message from +18015550142");
});

test("setup-customer on a terminal: an empty answer is still an error naming the flag", async () => {
  const io = terminal(["Acme", ""]);
  await expect(command("setup-customer").run([], io, t.ctx)).rejects.toThrow("Missing --phone");
});
