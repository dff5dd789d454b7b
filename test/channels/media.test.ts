// S10: a media download must end. A stranger's file server (a WhatsApp MediaUrl, Telegram's file host) that answers
// headers and then nothing, or never answers, would hold the tenant's lease and an agent slot for good; one that
// lies about its size must not fill the disk.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, TCPSocketListener } from "bun";
import { downloadMedia, MediaFetchError } from "../../src/channels/media.ts";
import { rejectionOf } from "../helpers/index.ts";
import { saveInto } from "../helpers/media-sink.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "proxystaff-media-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A raw TCP "HTTP server": `answer` writes whatever bytes it likes to each connection (or nothing). */
function rawServer(answer: (socket: Socket<undefined>) => void): string {
  const sockets = new Set<Socket<undefined>>();
  const listener: TCPSocketListener<undefined> = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        sockets.add(socket);
        answer(socket);
      },
      close(socket) {
        sockets.delete(socket);
      },
    },
  });
  cleanups.push(() => {
    for (const s of sockets) s.end();
    listener.stop(true);
  });
  return `http://127.0.0.1:${listener.port}/file.jpg`;
}

/** Settles within `ms` or fails the test with a clear message (instead of the test runner's timeout). */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the download did not end within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

const TIMEOUTS = { headersTimeoutMs: 300, totalTimeoutMs: 800 };

describe("downloadMedia bounds", () => {
  test("a server that sends headers and then nothing: ends at the total timeout with a clear error, nothing saved", async () => {
    const url = rawServer(
      (s) => void s.write("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\nabc"),
    );
    const dir = tempDir();
    const started = Date.now();
    const err = await within(3000, rejectionOf(downloadMedia(url, { kind: "photo" }, saveInto(dir), TIMEOUTS)));
    expect(err).toBeInstanceOf(MediaFetchError);
    expect(err).toMatchObject({ code: "media_timeout" });
    expect((err as Error).message).toContain("photo");
    expect((err as Error).message).not.toContain("127.0.0.1");
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(readdirSync(dir)).toEqual([]);
  });

  test("a server that never answers: ends at the headers timeout", async () => {
    const url = rawServer(() => {});
    const started = Date.now();
    const err = await within(3000, rejectionOf(downloadMedia(url, { kind: "voice" }, saveInto(tempDir()), TIMEOUTS)));
    expect(err).toMatchObject({ code: "media_timeout" });
    expect(Date.now() - started).toBeLessThan(750);
  });

  test("a body that trickles forever (a byte now and then) still ends at the total timeout", async () => {
    const url = rawServer((s) => {
      s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      const timer = setInterval(() => s.write("1\r\nx\r\n"), 50);
      cleanups.push(() => clearInterval(timer));
    });
    const err = await within(
      3000,
      rejectionOf(downloadMedia(url, { kind: "document" }, saveInto(tempDir()), TIMEOUTS)),
    );
    expect(err).toMatchObject({ code: "media_timeout" });
  });

  test("a server that claims a small Content-Length but streams more than the limit: refused while streaming", async () => {
    const chunk = Buffer.alloc(64 * 1024, 120).toString();
    const url = rawServer((s) => {
      // Declares 10 bytes, then sends chunked data past the 100 KiB limit.
      s.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (let i = 0; i < 4; i++) s.write(`${(chunk.length).toString(16)}\r\n${chunk}\r\n`);
    });
    const dir = tempDir();
    const err = await within(
      3000,
      rejectionOf(downloadMedia(url, { kind: "document" }, saveInto(dir), { ...TIMEOUTS, maxBytes: 100 * 1024 })),
    );
    expect(err).toBeInstanceOf(MediaFetchError);
    expect(["media_too_large", "media_fetch_failed"]).toContain((err as MediaFetchError).code);
    expect(readdirSync(dir)).toEqual([]);
  });

  test("a server that declares no size and streams past the limit: refused while streaming, nothing saved", async () => {
    const chunk = Buffer.alloc(64 * 1024, 120).toString();
    const url = rawServer((s) => {
      s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (let i = 0; i < 4; i++) s.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    });
    const dir = tempDir();
    const err = await within(
      3000,
      rejectionOf(downloadMedia(url, { kind: "document" }, saveInto(dir), { ...TIMEOUTS, maxBytes: 100 * 1024 })),
    );
    expect(err).toMatchObject({ code: "media_too_large" });
    expect(readdirSync(dir)).toEqual([]);
  });

  test("a declared Content-Length over the limit is refused before the body is read", async () => {
    const url = rawServer((s) => void s.write("HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n"));
    const err = await within(
      3000,
      rejectionOf(downloadMedia(url, { kind: "video" }, saveInto(tempDir()), { ...TIMEOUTS, maxBytes: 1024 })),
    );
    expect(err).toMatchObject({ code: "media_too_large" });
  });

  test("a normal file within the limits is saved", async () => {
    const url = rawServer(
      (s) =>
        void s.end("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"),
    );
    const saved = await within(3000, downloadMedia(url, { kind: "photo" }, saveInto(tempDir()), TIMEOUTS));
    expect(saved).toMatchObject({ kind: "photo", mimeType: "image/png", sizeBytes: 5 });
  });
});
