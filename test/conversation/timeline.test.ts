import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AppContext } from "../../src/context.ts";
import { isDeadLocalOwner, isGoneLocalOwner, newMoveOwner, newOwnerId } from "../../src/conversation/session-store.ts";
import {
  appendTimeline,
  localDateTime,
  quoteForTimeline,
  readTimelineDay,
  timelineWritten,
} from "../../src/conversation/timeline.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, FakeClock } from "../helpers/index.ts";

describe("timeline", () => {
  let tc: TestContext;
  let ctx: AppContext;
  beforeEach(async () => {
    tc = await createTestContext({ clock: new FakeClock() });
    ctx = tc.ctx;
  });
  afterEach(() => tc.cleanup());

  test("date and time are the tenant's local ones", () => {
    const at = Date.parse("2026-11-26T03:30:00Z");
    expect(localDateTime(at, "America/Denver")).toEqual({ date: "2026-11-25", time: "20:30" });
    expect(localDateTime(at, "Asia/Tokyo")).toEqual({ date: "2026-11-26", time: "12:30" });
  });

  test("lines go to timeline/YYYY-MM-DD.md with a heading for a new day", async () => {
    const tenant = { id: crypto.randomUUID(), timezone: "America/Denver" };
    const at = Date.parse("2026-11-26T03:30:00Z");
    await appendTimeline(ctx, tenant, "← customer: hi", at);
    await appendTimeline(ctx, tenant, "→ reply: hello", at + 60_000);
    const text = readFileSync(join(ctx.config.TENANTS_DIR, tenant.id, "timeline", "2026-11-25.md"), "utf8");
    expect(text).toBe("# 2026-11-25 (America/Denver)\n\n- 20:30 ← customer: hi\n- 20:31 → reply: hello\n");
  });

  test("readTimelineDay: the tenant's local day, newest line first; a planted symlink is a problem, not a read", async () => {
    const tenant = { id: crypto.randomUUID(), timezone: "America/Denver" };
    const at = Date.parse("2026-11-26T03:30:00Z");
    expect(readTimelineDay(ctx, tenant, at)).toEqual({ date: "2026-11-25", lines: [] });
    await appendTimeline(ctx, tenant, "← customer: hi", at);
    await appendTimeline(ctx, tenant, "→ reply: hello", at + 60_000);
    expect(readTimelineDay(ctx, tenant, at + 120_000)).toEqual({
      date: "2026-11-25",
      lines: ["- 20:31 → reply: hello", "- 20:30 ← customer: hi"],
    });
    const other = { id: crypto.randomUUID(), timezone: "UTC" };
    const outside = mkdtempSync(join(tmpdir(), "ps-outside-"));
    writeFileSync(join(outside, "2026-11-26.md"), "- 10:00 someone else's secret\n");
    mkdirSync(join(ctx.config.TENANTS_DIR, other.id, "timeline"), { recursive: true });
    symlinkSync(join(outside, "2026-11-26.md"), join(ctx.config.TENANTS_DIR, other.id, "timeline", "2026-11-26.md"));
    const read = readTimelineDay(ctx, other, Date.parse("2026-11-26T10:00:00Z"));
    expect(read.lines).toEqual([]);
    expect(read.problem).toBeString();
    rmSync(outside, { recursive: true, force: true });
  });

  test("a timeline that is a symlink out of the workspace is refused (logged, not thrown)", async () => {
    const tenant = { id: crypto.randomUUID(), timezone: "UTC" };
    const outside = mkdtempSync(join(tmpdir(), "ps-outside-"));
    mkdirSync(join(ctx.config.TENANTS_DIR, tenant.id), { recursive: true });
    symlinkSync(outside, join(ctx.config.TENANTS_DIR, tenant.id, "timeline"));
    await appendTimeline(ctx, tenant, "secret", Date.parse("2026-11-26T10:00:00Z"));
    expect(existsSync(join(outside, "2026-11-26.md"))).toBe(false);
  });

  test("lines left to write in the background land in call order, heading once", async () => {
    const tenant = { id: crypto.randomUUID(), timezone: "UTC" };
    const at = Date.parse("2026-11-26T10:00:00Z");
    for (let i = 0; i < 50; i++) void appendTimeline(ctx, tenant, `line ${i}`, at);
    await timelineWritten();
    const text = readFileSync(join(ctx.config.TENANTS_DIR, tenant.id, "timeline", "2026-11-26.md"), "utf8");
    expect(text).toBe(`# 2026-11-26 (UTC)\n\n${Array.from({ length: 50 }, (_, i) => `- 10:00 line ${i}\n`).join("")}`);
  });

  test("a day file already written: a folder swapped for a symlink, or a deleted file, is noticed", async () => {
    const tenant = { id: crypto.randomUUID(), timezone: "UTC" };
    const at = Date.parse("2026-11-26T10:00:00Z");
    await appendTimeline(ctx, tenant, "first", at);
    const folder = join(ctx.config.TENANTS_DIR, tenant.id, "timeline");
    rmSync(join(folder, "2026-11-26.md"));
    await appendTimeline(ctx, tenant, "after delete", at);
    expect(readFileSync(join(folder, "2026-11-26.md"), "utf8")).toBe("# 2026-11-26 (UTC)\n\n- 10:00 after delete\n");
    const outside = mkdtempSync(join(tmpdir(), "ps-outside-"));
    writeFileSync(join(outside, "2026-11-26.md"), "");
    rmSync(folder, { recursive: true });
    symlinkSync(outside, folder);
    await appendTimeline(ctx, tenant, "secret", at);
    expect(readFileSync(join(outside, "2026-11-26.md"), "utf8")).toBe("");
    rmSync(outside, { recursive: true });
  });

  test("quotes fold newlines and cut long text", () => {
    expect(quoteForTimeline("a\nb")).toBe("a ⏎ b");
    expect(quoteForTimeline("x".repeat(10), 4)).toBe("xxxx…");
  });
});

describe("lease owner ids", () => {
  test("a claim of this host's dead pid, or of our own pid from a previous life, is dead; other hosts never", () => {
    const self = newOwnerId(1000, "hostA");
    expect(isDeadLocalOwner(self, self)).toBe(false);
    expect(isDeadLocalOwner(newOwnerId(1000, "hostA"), self)).toBe(true);
    expect(isDeadLocalOwner(newOwnerId(2000, "hostA"), self, () => false)).toBe(true);
    expect(isDeadLocalOwner(newOwnerId(2000, "hostA"), self, () => true)).toBe(false);
    expect(isDeadLocalOwner(newOwnerId(1000, "hostB"), self, () => false)).toBe(false);
    expect(isDeadLocalOwner("garbage", self)).toBe(false);
  });

  test("a move's lease owner: never dead while its move runs in this process; a previous life's once it is not", () => {
    const self = newOwnerId();
    const move = newMoveOwner();
    expect(isDeadLocalOwner(move.owner, self)).toBe(false); // same host and pid as the dispatcher: still alive
    expect(isGoneLocalOwner(move.owner)).toBe(false);
    move.done();
    expect(isDeadLocalOwner(move.owner, self)).toBe(true); // same pid, not running here: a crashed earlier life's
    expect(isGoneLocalOwner(move.owner)).toBe(true);
    const elsewhere = move.owner.replace(/^move@[^:]+:/, "move@another-host:");
    expect(isDeadLocalOwner(elsewhere, self, () => false)).toBe(false); // another host: only its expiry frees it
    expect(isGoneLocalOwner(elsewhere, () => false)).toBe(false);
  });
});
