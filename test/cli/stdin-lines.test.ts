import { describe, expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import { createLineReader } from "../../src/cli/command.ts";

function streams() {
  const input = new PassThrough();
  const output = new PassThrough();
  let written = "";
  output.on("data", (chunk: Buffer) => (written += chunk.toString()));
  return { input, output, written: () => written };
}

describe("createLineReader", () => {
  test("lines piped or pasted in one chunk all reach their prompts, then null at the end", async () => {
    const s = streams();
    const readLine = createLineReader(s.input, s.output);
    s.input.end("Acme Plumbing\n+18015551234\ntelegram\n");
    expect(await readLine("Name: ")).toBe("Acme Plumbing");
    expect(await readLine("Phone: ")).toBe("+18015551234");
    expect(await readLine("Channel: ")).toBe("telegram");
    expect(await readLine("Time zone: ")).toBeNull();
    expect(s.written()).toContain("Phone: ");
  });

  test("a prompt waits for a line that comes later; a closed input answers null", async () => {
    const s = streams();
    const readLine = createLineReader(s.input, s.output);
    const first = readLine("you> ");
    s.input.write("hello\n");
    expect(await first).toBe("hello");
    const second = readLine("you> ");
    s.input.end();
    expect(await second).toBeNull();
  });
});
