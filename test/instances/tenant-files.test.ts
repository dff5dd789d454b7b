import { afterEach, expect, test } from "bun:test";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliProjectSlug, packPart, partDir, receivePart } from "../../src/ops/tenant-files.ts";
import { requireTenant } from "../../src/tenants/index.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext, insertTenant, rejectionOf } from "../helpers/index.ts";

let source: TestContext | undefined;
let target: TestContext | undefined;
afterEach(async () => {
  await source?.cleanup();
  await target?.cleanup();
  source = target = undefined;
});

/** Two instances' folders (DATA_DIR, TENANTS_DIR); the tenant row is in both contexts' databases. */
async function pair() {
  source = await createTestContext();
  target = await createTestContext();
  const row = await insertTenant(source.ctx, { uid: 250_123 });
  await insertTenant(target.ctx, { id: row.id, uid: 250_123 });
  return { tenant: await requireTenant(target.ctx.db, row.id) };
}

test("a packed part arrives whole: checksum checked, symlinks kept as links (never followed), sessions renamed to the new path", async () => {
  const { tenant } = await pair();
  const s = source as TestContext;
  const t = target as TestContext;
  const outside = mkdtempSync(join(tmpdir(), "outside-"));
  writeFileSync(join(outside, "secret"), "host secret");
  const ws = partDir(s.ctx.config, tenant.id, "workspace");
  mkdirSync(join(ws, "notes"), { recursive: true });
  writeFileSync(join(ws, "notes", "a.md"), "hello");
  symlinkSync(outside, join(ws, "escape"));
  const cfg = partDir(s.ctx.config, tenant.id, "config");
  const oldSlug = cliProjectSlug(ws);
  mkdirSync(join(cfg, "projects", oldSlug), { recursive: true });
  writeFileSync(join(cfg, "projects", oldSlug, "s1.jsonl"), "{}");

  for (const part of ["workspace", "config"] as const) {
    const packed = await packPart(s.ctx, tenant.id, part);
    expect(packed).not.toBeNull();
    if (!packed) return;
    const wrong = await rejectionOf(
      receivePart(t.ctx, tenant, part, Bun.file(packed.path).stream(), "0".repeat(64), ws),
    );
    expect(wrong).toMatchObject({ code: "checksum_mismatch", status: 422 });
    const got = await receivePart(t.ctx, tenant, part, Bun.file(packed.path).stream(), packed.sha256, ws);
    expect(got.bytes).toBe(packed.bytes);
  }
  const moved = partDir(t.ctx.config, tenant.id, "workspace");
  expect(readFileSync(join(moved, "notes", "a.md"), "utf8")).toBe("hello");
  expect(lstatSync(join(moved, "escape")).isSymbolicLink()).toBe(true); // a link, not a copy of the host's folder
  expect(readlinkSync(join(moved, "escape"))).toBe(outside);
  const movedCfg = partDir(t.ctx.config, tenant.id, "config");
  expect(existsSync(join(movedCfg, "projects", cliProjectSlug(moved), "s1.jsonl"))).toBe(true);
  if (process.getuid?.() === 0) expect(lstatSync(join(moved, "notes", "a.md")).uid).toBe(250_123);
});

test("a hostile CLI directory whose projects/ is a symlink is unpacked, but nothing is renamed through it", async () => {
  const { tenant } = await pair();
  const s = source as TestContext;
  const t = target as TestContext;
  const ws = partDir(s.ctx.config, tenant.id, "workspace");
  const outside = mkdtempSync(join(tmpdir(), "outside-"));
  mkdirSync(join(outside, cliProjectSlug(ws)));
  const cfg = partDir(s.ctx.config, tenant.id, "config");
  mkdirSync(cfg, { recursive: true });
  symlinkSync(outside, join(cfg, "projects"));
  const packed = await packPart(s.ctx, tenant.id, "config");
  if (!packed) throw new Error("nothing packed");
  await receivePart(t.ctx, tenant, "config", Bun.file(packed.path).stream(), packed.sha256, ws);
  expect(existsSync(join(outside, cliProjectSlug(ws)))).toBe(true); // not renamed on the host
});
