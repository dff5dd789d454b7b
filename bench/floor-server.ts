// The physical floor for ingest: a bare Bun.serve handler doing one bun:sqlite INSERT per request (WAL).
// Started as its own process by bench/ingest.ts, like the real server, and driven by the same load generator.
import { Database } from "bun:sqlite";

const path = process.argv[2] ?? "/tmp/floor.db";
const db = new Database(path, { create: true });
db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000");
db.exec(
  "CREATE TABLE IF NOT EXISTS updates (id INTEGER PRIMARY KEY, external_id TEXT UNIQUE, body TEXT, created_at TEXT)",
);
const insert = db.prepare(
  "INSERT INTO updates (external_id, body, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
);

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const update = (await req.json()) as { update_id: number; message?: { text?: string } };
    insert.run(String(update.update_id), update.message?.text ?? "", new Date().toISOString());
    return new Response("ok");
  },
});
console.log(JSON.stringify({ port: server.port }));
