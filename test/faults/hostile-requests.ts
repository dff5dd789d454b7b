// A seeded generator of malformed and hostile HTTP requests against every public and admin route of ProxyStaff:
// broken JSON, wrong types, huge bodies, unicode junk, path traversal in ids, SQL-ish strings, forged Twilio
// signatures, wrong Telegram secrets, wrong or missing admin keys. Each request says whether it may change data.

/** One generated request. */
export interface HostileRequest {
  method: string;
  /** Path and query, already encoded as it goes on the wire. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** The class of request, for the summary. */
  kind: string;
  /** True when no answer may change data (refused auth / signature / secret): checked even if answered 2xx. */
  isUnauthorized: boolean;
}

/** What the generator may aim at: real ids so some requests reach existing rows, and the right secrets for authorised classes. */
export interface HostileTargets {
  adminKey: string;
  telegramSecret: string;
  tenantIds: string[];
  taskIds: string[];
  credentialKeys: string[];
}

const JUNK_STRINGS = [
  "",
  " ",
  "\t\n",
  "A".repeat(10_000),
  "\u0000",
  "a\u0000b",
  "\uD800",
  "\u202Eevil\u202C",
  "🦄🔥💩",
  "Z̸̢̛̙̗͉̈́͒ą̷̛̘͙̓l̵͕̈g̶̣̈́o̸͙͋",
  "../../etc/passwd",
  "..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%2f%2e%2e%2f",
  "....//....//etc/shadow",
  "/etc/passwd",
  "C:\\Windows\\system32",
  "' OR 1=1 --",
  "'; DROP TABLE tenants; --",
  '" OR ""="',
  "1; SELECT * FROM credentials",
  "%s%s%s%n",
  "${process.env.ADMIN_API_KEY}",
  "{{7*7}}",
  "__proto__",
  "constructor",
  "null",
  "NaN",
  "-1",
  "1e309",
  "99999999999999999999999",
  "00000000-0000-0000-0000-000000000000",
  "5b0c8a52-3f0e-4c54-9d59-7a5c0a6f1e21",
  "<script>alert(1)</script>",
  "+18015551234",
  "whatsapp:+1",
];

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-16",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=xyz",
  "application/xml",
  "",
];

/** Routes as [method, path template]; {id}, {taskId}, {key} are filled with real or junk values. */
const ADMIN_ROUTES: [string, string][] = [
  ["GET", "/admin/tenants"],
  ["POST", "/admin/tenants"],
  ["GET", "/admin/tenants/{id}"],
  ["PATCH", "/admin/tenants/{id}"],
  ["DELETE", "/admin/tenants/{id}"],
  ["GET", "/admin/tenants/{id}/credentials"],
  ["POST", "/admin/tenants/{id}/credentials"],
  ["DELETE", "/admin/tenants/{id}/credentials/{key}"],
  ["GET", "/admin/tenants/{id}/messages"],
  ["POST", "/admin/tenants/{id}/reset-session"],
  ["POST", "/admin/tenants/{id}/link"],
  ["DELETE", "/admin/tenants/{id}/link"],
  ["GET", "/admin/tenants/{id}/validate"],
  ["GET", "/admin/tenants/{id}/tasks"],
  ["POST", "/admin/tenants/{id}/tasks"],
  ["GET", "/admin/tenants/{id}/tasks/{taskId}"],
  ["PATCH", "/admin/tenants/{id}/tasks/{taskId}"],
  ["DELETE", "/admin/tenants/{id}/tasks/{taskId}"],
  ["GET", "/admin/openapi.json"],
  ["POST", "/admin/tools/health-check"],
  ["PUT", "/admin/tenants/{id}"],
  ["GET", "/admin/../health"],
  ["GET", "/admin/%2e%2e/admin/tenants"],
];

/** Builds hostile requests from a PRNG. `hugeEvery`: one request in this many carries a body over 1 MiB. */
export function hostileRequests(rand: () => number, targets: HostileTargets, hugeEvery = 500): () => HostileRequest {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const chance = (p: number) => rand() < p;
  let n = 0;

  const junkString = (): string =>
    chance(0.15) ? randomUnicode(rand, 1 + Math.floor(rand() * 40)) : pick(JUNK_STRINGS);
  const junkValue = (depth = 0): unknown => {
    const r = rand();
    if (r < 0.3) return junkString();
    if (r < 0.45) return pick([0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, Number.MAX_SAFE_INTEGER + 2]);
    if (r < 0.52) return pick([true, false, null]);
    if (depth > 2) return junkString();
    if (r < 0.7) return Array.from({ length: Math.floor(rand() * 4) }, () => junkValue(depth + 1));
    const obj: Record<string, unknown> = {};
    for (let i = 0; i < 1 + Math.floor(rand() * 4); i++)
      obj[chance(0.6) ? pick(FIELD_NAMES) : junkString().slice(0, 40)] = junkValue(depth + 1);
    return obj;
  };
  const jsonish = (): string => {
    const r = rand();
    if (r < 0.5) return JSON.stringify(junkValue());
    if (r < 0.7)
      return pick([
        "{",
        "[",
        '{"a":',
        "{'name': 'x'}",
        '{"name": "x",}',
        "nul",
        "\u0000{}",
        '{"__proto__": {"isAdmin": true}}',
        "[".repeat(5000),
        "1".repeat(400),
      ]);
    if (r < 0.85)
      return new URLSearchParams({
        [pick(FIELD_NAMES)]: junkString(),
        Body: junkString(),
        From: junkString(),
      }).toString();
    return randomUnicode(rand, Math.floor(rand() * 200));
  };
  const body = (): string => (++n % hugeEvery === 0 ? `{"name":"${"x".repeat(1_100_000)}"}` : jsonish());
  const id = (real: string[]): string => (real.length > 0 && chance(0.2) ? pick(real) : encodeJunk(junkString(), rand));
  const headersWith = (extra: Record<string, string>): Record<string, string> => {
    const type = pick(CONTENT_TYPES);
    return { ...(type ? { "content-type": type } : {}), ...extra };
  };
  const fill = (template: string) =>
    template
      .replace("{id}", id(targets.tenantIds))
      .replace("{taskId}", id(targets.taskIds))
      .replace(
        "{key}",
        chance(0.3)
          ? pick([...targets.credentialKeys, "ADMIN_API_KEY", "lowercase_key"])
          : encodeJunk(junkString(), rand),
      );
  const query = () =>
    chance(0.3)
      ? `?${pick(["limit", "offset", "status", "purge", "before", "onboarding_status"])}=${encodeJunk(junkString(), rand)}&limit=${pick(["-1", "0", "abc", "100000", "1e3"])}`
      : "";
  const withBody = (method: string) => method !== "GET" && method !== "HEAD";

  const badAuth = (): Record<string, string> =>
    pick<Record<string, string>>([
      {},
      { authorization: "Bearer" },
      { authorization: "Bearer " },
      { authorization: `Bearer ${targets.adminKey.slice(0, -1)}` },
      { authorization: `Bearer ${targets.adminKey}x` },
      { authorization: `bearer${targets.adminKey}` },
      { authorization: `Basic ${btoa(`admin:${targets.adminKey}`)}` },
      {
        authorization: `Bearer ${junkString()
          .replace(/[^\x20-\x7e]/g, "?")
          .slice(0, 200)}`,
      },
      { authorization: "Bearer ' OR 1=1 --" },
      { "x-admin-key": targets.adminKey },
    ]);

  return function next(): HostileRequest {
    const r = rand();
    if (r < 0.4) {
      const [method, template] = pick(ADMIN_ROUTES);
      return {
        kind: "admin, bad key",
        method,
        path: fill(template) + query(),
        headers: headersWith(badAuth()),
        body: withBody(method) ? body() : undefined,
        isUnauthorized: true,
      };
    }
    if (r < 0.72) {
      const [method, template] = pick(ADMIN_ROUTES.filter(([, p]) => !p.includes("health-check") || chance(0.02)));
      const headers = headersWith({ authorization: `Bearer ${targets.adminKey}` });
      return {
        kind: "admin, junk input",
        method,
        path: fill(template) + query(),
        headers,
        body: withBody(method) ? body() : undefined,
        isUnauthorized: false,
      };
    }
    if (r < 0.8) {
      const secret = pick([
        undefined,
        "",
        "wrong",
        targets.telegramSecret.slice(1),
        `x${targets.telegramSecret}`,
        junkString()
          .replace(/[^\x20-\x7e]/g, "")
          .slice(0, 300),
      ]);
      const headers = headersWith(secret === undefined ? {} : { "X-Telegram-Bot-Api-Secret-Token": secret });
      return {
        kind: "telegram, wrong secret",
        method: "POST",
        path: "/webhooks/telegram",
        headers,
        body: body(),
        isUnauthorized: true,
      };
    }
    if (r < 0.88) {
      const headers = headersWith({ "X-Telegram-Bot-Api-Secret-Token": targets.telegramSecret });
      return {
        kind: "telegram, junk update",
        method: "POST",
        path: `/webhooks/telegram${query()}`,
        headers,
        body: telegramJunk(rand, junkValue, junkString, body),
        isUnauthorized: false,
      };
    }
    if (r < 0.95) {
      const signature = pick([
        undefined,
        "",
        "forged",
        btoa("forged-signature-bytes-000000"),
        "sha1=deadbeef",
        junkString()
          .replace(/[^\x20-\x7e]/g, "")
          .slice(0, 100),
      ]);
      const headers = {
        "content-type": pick(["application/x-www-form-urlencoded", "application/json", "text/plain"]),
        ...(signature === undefined ? {} : { "X-Twilio-Signature": signature }),
      };
      const form = new URLSearchParams({
        MessageSid: `SM${junkString().slice(0, 34)}`,
        From: pick(["whatsapp:+18015551234", junkString()]),
        To: "whatsapp:+14155238886",
        Body: junkString(),
        NumMedia: pick(["0", "1", "-1", "999", "x"]),
      }).toString();
      return {
        kind: "whatsapp, forged signature",
        method: "POST",
        path: "/webhooks/whatsapp",
        headers,
        body: chance(0.8) ? form : body(),
        isUnauthorized: true,
      };
    }
    if (r < 0.98) {
      const headers = headersWith({
        ...pick<Record<string, string>>([
          {},
          { authorization: "Bearer junk" },
          { authorization: `Bearer ${targets.adminKey}` },
        ]),
        accept: "application/json, text/event-stream",
      });
      return {
        kind: "mcp, bad token",
        method: pick(["POST", "GET", "DELETE"]),
        path: "/mcp",
        headers,
        body: undefined,
        isUnauthorized: true,
      };
    }
    const [method, path] = pick([
      ["GET", "/health"],
      ["GET", "/metrics"],
      ["POST", "/health"],
      ["GET", `/${encodeJunk(junkString(), rand)}`],
      ["GET", "/%2e%2e/%2e%2e/etc/passwd"],
      ["GET", "/webhooks/telegram"],
    ] as [string, string][]);
    return {
      kind: "public, other",
      method,
      path,
      headers: badAuth(),
      body: withBody(method) ? body() : undefined,
      isUnauthorized: true,
    };
  };
}

const FIELD_NAMES = [
  "name",
  "phone",
  "channel",
  "timezone",
  "business",
  "credentials",
  "prompt",
  "cron",
  "run_at",
  "in_minutes",
  "paused",
  "onboarding_status",
  "status",
  "chat_id",
  "telegram_chat_id",
  "id",
  "update_id",
  "message",
  "text",
  "__proto__",
];

function telegramJunk(
  rand: () => number,
  junkValue: () => unknown,
  junkString: () => string,
  body: () => string,
): string {
  const r = rand();
  if (r < 0.3) return body();
  const chat = rand() < 0.5 ? { id: junkValue(), type: "private" } : junkValue();
  const update: Record<string, unknown> = { update_id: rand() < 0.7 ? Math.floor(rand() * 1e9) : junkValue() };
  update[rand() < 0.8 ? "message" : String(junkString()).slice(0, 30)] = {
    message_id: junkValue(),
    date: junkValue(),
    chat,
    from: junkValue(),
    text: rand() < 0.5 ? junkString() : junkValue(),
    photo: rand() < 0.1 ? junkValue() : undefined,
    document: rand() < 0.1 ? junkValue() : undefined,
  };
  return JSON.stringify(update);
}

function randomUnicode(rand: () => number, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) {
    const r = rand();
    const code =
      r < 0.4
        ? 0x20 + Math.floor(rand() * 0x5f)
        : r < 0.7
          ? Math.floor(rand() * 0xd7ff)
          : r < 0.8
            ? Math.floor(rand() * 0x20)
            : 0xe000 + Math.floor(rand() * 0x1fff);
    s += String.fromCharCode(code);
  }
  return s;
}

/** Junk for a path segment: mostly percent-encoded, sometimes raw (traversal reaches the router as typed). */
function encodeJunk(s: string, rand: () => number): string {
  if (rand() < 0.25 && /^[\x21-\x7e]*$/.test(s) && !s.includes("?") && !s.includes("#")) return s || "%20";
  return percentEncode(s.slice(0, 300)) || "%20";
}

/** encodeURIComponent that never throws (a lone surrogate becomes U+FFFD's bytes). */
function percentEncode(s: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(s)) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
