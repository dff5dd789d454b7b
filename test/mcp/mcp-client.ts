import type { Hono } from "hono";

/** A minimal JSON-RPC client of POST /mcp driving an in-process Hono app (tests only). */
export interface McpTestClient {
  /** The raw HTTP answer of one JSON-RPC request. */
  post(token: string | null, body: unknown): Promise<Response>;
  /** A JSON-RPC request; returns the parsed answer body. */
  rpc(token: string | null, method: string, params?: unknown): Promise<RpcAnswer>;
  /** tools/call; returns the tool result's text and isError flag. */
  call(token: string, name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean }>;
}

export interface RpcAnswer {
  status: number;
  result?: {
    content?: { type: string; text: string }[];
    isError?: boolean;
    tools?: { name: string; inputSchema: unknown }[];
  } & Record<string, unknown>;
  error?: { code: number; message: string };
}

export function mcpClient(app: Hono): McpTestClient {
  let id = 0;
  const post = async (token: string | null, body: unknown): Promise<Response> =>
    app.request("/mcp", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });
  const rpc = async (token: string | null, method: string, params?: unknown): Promise<RpcAnswer> => {
    const res = await post(token, { jsonrpc: "2.0", id: ++id, method, ...(params === undefined ? {} : { params }) });
    const body = (await res.json()) as Omit<RpcAnswer, "status">;
    return { status: res.status, ...body };
  };
  return {
    post,
    rpc,
    async call(token, name, args) {
      const answer = await rpc(token, "tools/call", { name, arguments: args });
      if (!answer.result) throw new Error(`tools/call ${name} failed: ${JSON.stringify(answer)}`);
      return {
        text: (answer.result.content ?? []).map((c) => c.text).join("\n"),
        isError: answer.result.isError === true,
      };
    },
  };
}
