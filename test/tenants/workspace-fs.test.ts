import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  closeSync,
  constants,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { saveToInbox } from "../../src/conversation/inbound-media.ts";
import { appendTimeline, timelineWritten } from "../../src/conversation/timeline.ts";
import { readWorkspaceEnv } from "../../src/credentials/environment.ts";
import { AppError } from "../../src/errors.ts";
import { checkWorkspace } from "../../src/ops/validation-checks.ts";
import { writeClaudeMd } from "../../src/tenants/claude-md.ts";
import type { Tenant } from "../../src/tenants/index.ts";
import { createTenant, initWorkspace, updateTenant, workspacePath } from "../../src/tenants/index.ts";
import { MAX_ENV_FILE_BYTES } from "../../src/tenants/workspace-fs.ts";
import type { TestContext } from "../helpers/index.ts";
import { createTestContext } from "../helpers/index.ts";

let t: TestContext;
let a: Tenant;
let b: Tenant;
let wsA: string;
let wsB: string;
const children: Bun.Subprocess[] = [];
const fifos: string[] = [];

beforeEach(async () => {
  t = await createTestContext();
  a = await createTenant(t.ctx, { name: "Attacker Ltd", phone: "+18015550101", channel: "telegram", timezone: "UTC" });
  b = await createTenant(t.ctx, { name: "Victim Inc", phone: "+18015550102", channel: "telegram", timezone: "UTC" });
  wsA = workspacePath(t.ctx.config, a.id);
  wsB = workspacePath(t.ctx.config, b.id);
  writeFileSync(join(wsB, ".env"), "VICTIM_SECRET=s3cr3t\n");
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const fifo of fifos.splice(0)) releaseFifo(fifo);
  await t.cleanup();
});

/** A FIFO at `path` whose writer shows up after `delayMs`: old code that opens it blocks that long instead of hanging the test forever. */
function fifoWithLateWriter(path: string, text: string, delayMs = 1500): void {
  rmSync(path, { recursive: true, force: true });
  Bun.spawnSync(["mkfifo", path]);
  fifos.push(path);
  children.push(
    Bun.spawn(["timeout", "10", "sh", "-c", `sleep ${delayMs / 1000}; printf '%s' "$1" > "$2"`, "sh", text, path], {
      stdout: "ignore",
      stderr: "ignore",
    }),
  );
}

/** Opens a FIFO for reading without blocking, which releases a writer stuck in open(2). */
function releaseFifo(path: string): void {
  try {
    closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
  } catch {
    // gone or not a FIFO any more: nobody can be stuck on it
  }
}

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    return err instanceof AppError ? err.code : `not an AppError: ${String(err)}`;
  }
  return "no error";
}

/** Every file under `dir` with its size: a snapshot to compare (another tenant's folder must not change). */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => join(e.parentPath, e.name))
    .map((p) => `${relative(dir, p)}:${statSync(p, { throwIfNoEntry: false })?.size ?? "?"}`)
    .sort();
}

describe("S2: the workspace .env is read without following links, blocking or reading unbounded", () => {
  test("a FIFO .env: refused at once (the event loop is never held), not read when a writer turns up", () => {
    fifoWithLateWriter(join(wsA, ".env"), "STOLEN=1\n");
    const started = performance.now();
    expect(codeOf(() => readWorkspaceEnv(t.ctx, a))).toBe("unsafe_workspace_file");
    expect(performance.now() - started).toBeLessThan(300);
  });

  test("a symlink to /etc/passwd, to another tenant's .env, or to a file inside the workspace: refused", () => {
    for (const target of ["/etc/passwd", join(wsB, ".env"), join(wsA, "inbox", "notes.txt")]) {
      writeFileSync(join(wsA, "inbox", "notes.txt"), "X=1\n");
      rmSync(join(wsA, ".env"), { force: true });
      symlinkSync(target, join(wsA, ".env"));
      expect(codeOf(() => readWorkspaceEnv(t.ctx, a))).toBe("unsafe_workspace_file");
    }
  });

  test("a hard link to another tenant's .env is refused (its secrets never reach this tenant's agent)", () => {
    rmSync(join(wsA, ".env"));
    linkSync(join(wsB, ".env"), join(wsA, ".env"));
    expect(codeOf(() => readWorkspaceEnv(t.ctx, a))).toBe("unsafe_workspace_file");
  });

  test(`a .env over ${MAX_ENV_FILE_BYTES} bytes, or a folder, is refused; a normal one is read; none at all is {}`, () => {
    writeFileSync(join(wsA, ".env"), `A=${"x".repeat(MAX_ENV_FILE_BYTES)}\n`);
    expect(codeOf(() => readWorkspaceEnv(t.ctx, a))).toBe("unsafe_workspace_file");
    rmSync(join(wsA, ".env"));
    mkdirSync(join(wsA, ".env"));
    expect(codeOf(() => readWorkspaceEnv(t.ctx, a))).toBe("unsafe_workspace_file");
    rmSync(join(wsA, ".env"), { recursive: true });
    expect(readWorkspaceEnv(t.ctx, a)).toEqual({});
    writeFileSync(join(wsA, ".env"), "A=1\n");
    expect(readWorkspaceEnv(t.ctx, a)).toEqual({ A: "1" });
  });
});

describe("S2: CLAUDE.md on the profile-update path", () => {
  test("a FIFO CLAUDE.md: a profile update answers at once (the re-render is refused and logged)", async () => {
    fifoWithLateWriter(join(wsA, "CLAUDE.md"), "pwned");
    const started = performance.now();
    expect(codeOf(() => writeClaudeMd(t.ctx, a))).toBe("unsafe_workspace_file");
    const updated = await updateTenant(t.ctx, a.id, { business: { hours: "9-5" } });
    expect(performance.now() - started).toBeLessThan(500);
    expect(updated.business).toMatchObject({ hours: "9-5" });
    expect(
      t.logs.some((l) => l.msg === "CLAUDE.md re-render failed" && JSON.stringify(l).includes("unsafe_workspace_file")),
    ).toBe(true);
  });

  test("validation: a FIFO tool script is reported, never read (the check answers at once)", () => {
    fifoWithLateWriter(join(wsA, "execution", "send_email.py"), "print(1)");
    const started = performance.now();
    const checks = checkWorkspace(t.ctx, a);
    expect(performance.now() - started).toBeLessThan(300);
    expect(checks.find((c) => c.name === "tool:send_email.py")).toMatchObject({ status: "fail" });
    expect(JSON.stringify(checks)).toContain("FIFO");
  });
});

describe("S4: writes into the workspace never follow a link out of it", () => {
  test("a timeline day file hard-linked to another tenant's: the line is refused, the other file untouched", async () => {
    const at = Date.parse("2026-11-26T10:00:00Z");
    await appendTimeline(t.ctx, b, "victim line", at);
    const victimFile = join(wsB, "timeline", "2026-11-26.md");
    const before = readFileSync(victimFile, "utf8");
    mkdirSync(join(wsA, "timeline"), { recursive: true });
    linkSync(victimFile, join(wsA, "timeline", "2026-11-26.md"));
    await appendTimeline(t.ctx, a, "attacker line", at);
    expect(readFileSync(victimFile, "utf8")).toBe(before);
  });

  test("a timeline day file that is a FIFO: the line is refused at once, later lines still land", async () => {
    const at = Date.parse("2026-11-26T10:00:00Z");
    mkdirSync(join(wsA, "timeline"), { recursive: true });
    const day = join(wsA, "timeline", "2026-11-26.md");
    Bun.spawnSync(["mkfifo", day]);
    fifos.push(day);
    const outcome = await Promise.race([
      appendTimeline(t.ctx, a, "into the fifo", at).then(() => "done"),
      Bun.sleep(1000).then(() => "stuck"),
    ]);
    releaseFifo(day);
    expect(outcome).toBe("done");
    rmSync(day);
    await appendTimeline(t.ctx, a, "after", at);
    expect(readFileSync(day, "utf8")).toContain("after");
  });

  test("an inbox that is a symlink (to another tenant's inbox, or out of the tenants folder) gets no file", () => {
    const outside = mkdtempSync(join(t.dir, "outside-"));
    for (const target of [join(wsB, "inbox"), outside]) {
      rmSync(join(wsA, "inbox"), { recursive: true, force: true });
      symlinkSync(target, join(wsA, "inbox"));
      expect(codeOf(() => saveToInbox(t.ctx, a.id)("photo.jpg", new Uint8Array([1, 2, 3])))).toBe(
        "unsafe_workspace_file",
      );
    }
    expect(readdirSync(outside)).toEqual([]);
    expect(readdirSync(join(wsB, "inbox"))).toEqual([]);
  });

  test("swapping timeline/, inbox/, execution/ and the day file for links and FIFOs while the server writes: nothing lands outside, nothing blocks", async () => {
    const outside = mkdtempSync(join(tmpdir(), "ps-outside-"));
    const at = Date.parse("2026-11-26T10:00:00Z");
    await appendTimeline(t.ctx, b, "victim line", at);
    writeFileSync(join(wsB, "inbox", "victim.jpg"), "jpeg");
    const victimBefore = snapshot(wsB);
    const swapper = Bun.spawn(["python3", "-c", SWAPPER, wsA, wsB, outside, "2026-11-26.md", "3.0"], {
      stdout: "ignore",
      stderr: "pipe",
    });
    children.push(swapper);

    let lastTick = performance.now();
    let maxGapMs = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      maxGapMs = Math.max(maxGapMs, now - lastTick);
      lastTick = now;
    }, 10);
    const unclean: string[] = [];
    const clean = (err: unknown) => {
      if (!(err instanceof AppError) && !(err instanceof Error && "code" in err)) unclean.push(String(err));
    };
    let rounds = 0;
    try {
      const until = performance.now() + 3000;
      while (performance.now() < until) {
        rounds += 1;
        const line = Promise.race([
          appendTimeline(t.ctx, a, `line ${rounds}`, at).then(() => true),
          Bun.sleep(2000).then(() => false),
        ]);
        try {
          saveToInbox(t.ctx, a.id)(`photo-${rounds}.jpg`, new Uint8Array([rounds & 0xff]));
        } catch (err) {
          clean(err);
        }
        try {
          readWorkspaceEnv(t.ctx, a);
        } catch (err) {
          clean(err);
        }
        if (rounds % 10 === 0) await initWorkspace(t.ctx, a.id).catch(clean);
        if (!(await line)) throw new Error("a timeline write hung");
        await Bun.sleep(0);
      }
      await timelineWritten();
    } finally {
      clearInterval(ticker);
      swapper.kill("SIGKILL");
      await swapper.exited;
      for (const name of ["timeline", "inbox", "execution", "timeline/2026-11-26.md", ".swap-fifo"])
        releaseFifo(join(wsA, name));
    }
    expect(rounds).toBeGreaterThan(20);
    expect(unclean).toEqual([]);
    expect(maxGapMs).toBeLessThan(1000);
    expect(readdirSync(outside)).toEqual([]);
    expect(snapshot(wsB)).toEqual(victimBefore);
    expect(existsSync(join(t.dir, "2026-11-26.md"))).toBe(false);
    rmSync(outside, { recursive: true, force: true });
  }, 30_000);
});

/** The hostile agent: swaps entries of its workspace between a real one, links out and a FIFO, as fast as it can. */
const SWAPPER = `
import os, random, shutil, sys, time
ws, victim, outside, day, seconds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
targets = {
  "timeline": [os.path.join(victim, "timeline"), outside],
  "inbox": [os.path.join(victim, "inbox"), outside],
  "execution": [os.path.join(victim, "execution"), outside],
}
def remove(p):
  try:
    if os.path.isdir(p) and not os.path.islink(p): shutil.rmtree(p)
    else: os.unlink(p)
  except FileNotFoundError: pass
  except OSError: pass
end = time.time() + seconds
while time.time() < end:
  name = random.choice(list(targets) + ["day"])
  try:
    if name == "day":
      folder = os.path.join(ws, "timeline")
      if not os.path.isdir(folder) or os.path.islink(folder): continue
      p = os.path.join(folder, day)
      remove(p)
      form = random.choice(["file", "link", "fifo", "hard"])
      victim_day = os.path.join(victim, "timeline", day)
      if form == "file": open(p, "a").close()
      elif form == "link": os.symlink(victim_day, p)
      elif form == "fifo": os.mkfifo(p)
      else: os.link(victim_day, p)
    else:
      p = os.path.join(ws, name)
      remove(p)
      form = random.choice(["dir", "link", "fifo"])
      if form == "dir": os.mkdir(p)
      elif form == "link": os.symlink(random.choice(targets[name]), p)
      else: os.mkfifo(p)
  except OSError:
    pass
`;
