// The start/stop every loopback fake shares: a Bun server on 127.0.0.1, port 0, that never times out idle
// connections (long polls and "hang" faults stay open until the test ends), and a stop that frees parked requests.
import type { Server } from "bun";

/** A running loopback server and how to reach and stop it. */
export interface Loopback {
  server: Server<unknown>;
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  port: number;
  /** Release functions of requests the fake holds open on purpose ("hang"); stop() calls each, then forgets them. */
  hanging: Set<() => void>;
  /** Releases every hanging request, then closes the server and cuts its open connections. */
  stop(): Promise<void>;
}

/** Serves `fetch` on 127.0.0.1 at a free port, with no idle timeout. */
export function serveLoopback(fetch: (req: Request) => Response | Promise<Response>): Loopback {
  const server: Server<unknown> = Bun.serve({ port: 0, hostname: "127.0.0.1", idleTimeout: 0, fetch });
  const hanging = new Set<() => void>();
  return {
    server,
    url: `http://127.0.0.1:${server.port}`,
    port: server.port ?? 0,
    hanging,
    async stop() {
      for (const release of [...hanging]) release();
      hanging.clear();
      await server.stop(true);
    },
  };
}
