import { describe, expect, test } from "bun:test";
import { classifyRunError, loadFailures } from "../../src/console/failures-data.ts";
import { schema } from "../../src/db/index.ts";
import { insertTenant, useTestContext } from "../helpers/index.ts";
import { insertMessage, seedFour } from "./seed.ts";

const t = useTestContext();

describe("loadFailures", () => {
  test("failed runs classified, failed replies with the channel's error, failed tasks; newest first, with tenant names", async () => {
    const { cedar, dune } = await seedFour(t);
    await insertMessage(t, dune.id, {
      direction: "out",
      channel: "whatsapp",
      status: "sent",
      delivery_status: "undelivered",
      error_code: "63016",
      agoMs: 120_000,
    });
    await insertMessage(t, cedar.id, { direction: "out", status: "failed", error: "403: bot was blocked by the user" });
    await t.ctx.db.insert(schema.scheduledTasks).values({
      id: crypto.randomUUID(),
      tenant_id: cedar.id,
      prompt: "Send the invoice",
      status: "FAILED",
      last_error: "timeout: no answer",
      created_by: "agent",
    });
    const failures = await loadFailures(t.ctx.db);
    expect(failures.runs.map((r) => [r.tenantName, r.kind, r.error])).toEqual([
      ["Cedar Garage", "timeout", "no answer within 300000 ms"],
      ["Cedar Garage", "crash", "old"],
    ]);
    expect(failures.replies.map((r) => [r.tenantName, r.error, r.errorCode])).toEqual([
      ["Cedar Garage", "403: bot was blocked by the user", null],
      ["Dune Surf", "the channel reported undelivered", "63016"],
    ]);
    expect(failures.tasks.map((r) => [r.tenantId, r.prompt, r.error])).toEqual([
      [cedar.id, "Send the invoice", "timeout: no answer"],
    ]);
  });

  test("nothing failed: three empty lists", async () => {
    await insertTenant(t.ctx);
    expect(await loadFailures(t.ctx.db)).toEqual({ runs: [], replies: [], tasks: [] });
  });

  test("classifyRunError reads the turn runner's `<kind>: <detail>` and bare refusals", () => {
    expect(classifyRunError("credit_too_low: Credit balance is too low")).toEqual({
      kind: "credit_too_low",
      error: "Credit balance is too low",
    });
    expect(classifyRunError("tenant_paused")).toEqual({ kind: "tenant_paused", error: "" });
    expect(classifyRunError("Something: odd")).toEqual({ kind: "other", error: "Something: odd" });
  });
});
