import { describe, expect, test } from "bun:test";
import { formatPrompt } from "../../src/agent/index.ts";
import { localTime } from "../../src/agent/prompt.ts";

const at = Date.parse("2026-11-26T16:14:00Z");

describe("formatPrompt", () => {
  test("one chat message: sender, local time in the tenant's zone, media paths", () => {
    const prompt = formatPrompt(
      [
        {
          kind: "chat",
          sender: "Ada\nLovelace",
          text: "Here is the receipt",
          receivedAtMs: at,
          media: [{ path: "inbox/2026-11-26-receipt.jpg", kind: "photo" }],
        },
      ],
      "America/Denver",
    );
    expect(prompt).toBe(
      "[Message from Ada Lovelace, Thu 26 Nov 2026, 09:14 GMT-7 (America/Denver)]\nHere is the receipt\n[Attached photo: inbox/2026-11-26-receipt.jpg]",
    );
  });

  test("several messages are introduced and kept in order", () => {
    const prompt = formatPrompt(
      [
        { kind: "chat", text: "one", receivedAtMs: at, media: [] },
        { kind: "chat", text: "two", receivedAtMs: at + 60_000, media: [] },
      ],
      "Europe/Berlin",
    );
    expect(prompt.split("\n\n")).toHaveLength(3);
    expect(prompt).toContain("2 new messages from the customer");
    expect(prompt.indexOf("one")).toBeLessThan(prompt.indexOf("two"));
    expect(prompt).toContain("17:15 GMT+1 (Europe/Berlin)");
  });

  test("a scheduled task is marked as one", () => {
    const prompt = formatPrompt([{ kind: "task", text: "Send the weekly report", receivedAtMs: at, media: [] }], "UTC");
    expect(prompt).toMatch(/^\[Scheduled task, due Thu 26 Nov 2026, 16:14 GMT(\+0)? \(UTC\)\]\n/);
    expect(prompt).toContain("not a new message from the customer");
    expect(prompt).toEndWith("Send the weekly report");
  });

  test("an unknown zone falls back to UTC instead of throwing", () => {
    expect(localTime(at, "Not/AZone")).toContain("16:14");
    expect(formatPrompt([{ kind: "chat", text: "", receivedAtMs: at, media: [] }], "Not/AZone")).toContain(
      "(empty message)",
    );
  });
});
