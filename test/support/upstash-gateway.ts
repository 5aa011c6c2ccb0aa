import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";

/**
 * An Upstash-REST-compatible gateway in front of a real redis-server, for
 * tests only: `POST /` (one command), `POST /pipeline`, `POST /multi-exec`
 * (atomic), bearer-token auth and `Upstash-Encoding: base64` responses.
 * It speaks raw RESP2 to Redis because a client library would reshape replies
 * (hashes into objects, status replies into strings) that Upstash passes
 * through as Redis sent them.
 */
export interface UpstashGateway {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** HTTP requests received so far, authorised or not. */
  requestCount(): number;
  /** Makes the gateway misbehave as a managed service under load does, until set to undefined. */
  setFault(fault: GatewayFault | undefined): void;
  /** Requests answered with a fault status so far. */
  faultsServed(): number;
  stop(): Promise<void>;
}

/**
 * One request in `every` (counted from the fault being set) is answered with
 * `status` (429: Upstash's rate-limit error; 5xx: a proxy's HTML page), before
 * it reaches Redis or, with `afterRedis`, after Redis ran it (the answer is
 * lost, the effect is not). `delayMs` holds every answer back.
 */
export interface GatewayFault {
  readonly status?: 429 | 500 | 502 | 503;
  readonly every?: number;
  readonly afterRedis?: boolean;
  readonly delayMs?: number;
}

const FAULT_BODIES: Record<number, { readonly type: string; readonly body: string }> = {
  429: { type: "application/json", body: JSON.stringify({ error: "ERR max requests limit exceeded. Limit: 10000, Usage: 10000" }) },
  500: { type: "application/json", body: JSON.stringify({ error: "Internal server error" }) },
  502: { type: "text/html", body: "<html><body><h1>502 Bad Gateway</h1></body></html>" },
  503: { type: "text/html", body: "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>" },
};

export async function startUpstashGateway(options: { redisUrl: string; token: string }): Promise<UpstashGateway> {
  const pool = createConnectionPool(new URL(options.redisUrl));
  let requests = 0;
  let fault: GatewayFault | undefined;
  let sinceFault = 0;
  let faulted = 0;
  const server = createServer((request, response) => {
    requests++;
    const active = fault;
    const failing = active?.status !== undefined && ++sinceFault % Math.max(1, active.every ?? 1) === 0;
    const answer = (served: Answer): void => {
      const send = (): void => {
        if (!failing || active?.status === undefined) return reply(response, served);
        faulted++;
        const { type, body } = FAULT_BODIES[active.status] ?? { type: "text/plain", body: "fault" };
        response.writeHead(active.status, { "content-type": type });
        response.end(body);
      };
      if (active?.delayMs) setTimeout(send, active.delayMs);
      else send();
    };
    if (failing && !active?.afterRedis) {
      request.resume();
      answer({ status: 200, body: null });
      return;
    }
    handle(request, options.token, pool).then(answer, (error: unknown) => answer({ status: 500, body: { error: `ERR gateway: ${String(error)}` } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the gateway's listener reported no port");
  return {
    url: `http://127.0.0.1:${address.port}`,
    requestCount: () => requests,
    setFault: (next) => {
      fault = next;
      sinceFault = 0;
    },
    faultsServed: () => faulted,
    stop: async () => {
      pool.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Answer {
  readonly status: number;
  readonly body: Json;
}

function reply(response: ServerResponse, answer: Answer): void {
  response.writeHead(answer.status, { "content-type": "application/json" });
  response.end(JSON.stringify(answer.body));
}

async function handle(request: IncomingMessage, token: string, pool: ConnectionPool): Promise<Answer> {
  if (request.headers.authorization !== `Bearer ${token}`) return { status: 401, body: { error: "Unauthorized" } };
  if (request.method !== "POST") return { status: 405, body: { error: "ERR only POST is supported" } };
  const base64 = String(request.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
  let payload: unknown;
  try {
    payload = JSON.parse(await readBody(request));
  } catch {
    return { status: 400, body: { error: "ERR the request body is not JSON" } };
  }
  const path = new URL(request.url ?? "/", "http://gateway").pathname;
  if (path === "/") {
    const command = toCommand(payload);
    if (!command) return badCommands();
    const [result] = await pool.run([command]);
    return result?.kind === "error" ? { status: 400, body: { error: result.message } } : { status: 200, body: { result: toJson(result, base64) } };
  }
  const commands = Array.isArray(payload) ? payload.map(toCommand) : [];
  if (commands.length === 0 || commands.some((command) => !command)) return badCommands();
  const valid = commands as string[][];
  if (path === "/pipeline") {
    const results = await pool.run(valid);
    return { status: 200, body: results.map((result) => entry(result, base64)) };
  }
  if (path === "/multi-exec") {
    const results = await pool.run([["MULTI"], ...valid, ["EXEC"]]);
    const exec = results[results.length - 1];
    if (exec?.kind === "error") return { status: 400, body: { error: exec.message } };
    if (exec?.kind !== "array" || exec.items === null) return { status: 400, body: { error: "ERR transaction aborted" } };
    return { status: 200, body: exec.items.map((result) => entry(result, base64)) };
  }
  return { status: 404, body: { error: `ERR unknown path ${path}` } };
}

function badCommands(): Answer {
  return { status: 400, body: { error: "ERR the body must be a command (a JSON array of strings and numbers) or an array of them" } };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.once("error", reject);
  });
}

function toCommand(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const args: string[] = [];
  for (const arg of value) {
    if (typeof arg === "string") args.push(arg);
    else if (typeof arg === "number" || typeof arg === "boolean") args.push(String(arg));
    else return undefined;
  }
  return args;
}

function entry(result: RespReply | undefined, base64: boolean): Json {
  return result?.kind === "error" ? { error: result.message } : { result: toJson(result, base64) };
}

/** Upstash leaves status replies such as "OK" as they are and encodes bulk strings only. */
function toJson(value: RespReply | undefined, base64: boolean): Json {
  switch (value?.kind) {
    case undefined:
      return null;
    case "simple":
      return value.text;
    case "error":
      return value.message;
    case "integer":
      return value.value;
    case "bulk":
      return value.bytes === null ? null : value.bytes.toString(base64 ? "base64" : "utf8");
    case "array":
      return value.items === null ? null : value.items.map((item) => toJson(item, base64));
  }
}

// --- RESP2 ------------------------------------------------------------------

type RespReply =
  | { readonly kind: "simple"; readonly text: string }
  | { readonly kind: "error"; readonly message: string }
  | { readonly kind: "integer"; readonly value: number }
  | { readonly kind: "bulk"; readonly bytes: Buffer | null }
  | { readonly kind: "array"; readonly items: RespReply[] | null };

function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, "utf8");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** One reply starting at `offset`, or undefined when more bytes are needed. */
function parseReply(buffer: Buffer, offset: number): { reply: RespReply; next: number } | undefined {
  const lineEnd = buffer.indexOf("\r\n", offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString("utf8", offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case "+":
      return { reply: { kind: "simple", text: line }, next: afterLine };
    case "-":
      return { reply: { kind: "error", message: line }, next: afterLine };
    case ":":
      return { reply: { kind: "integer", value: Number(line) }, next: afterLine };
    case "$": {
      const length = Number(line);
      if (length < 0) return { reply: { kind: "bulk", bytes: null }, next: afterLine };
      if (buffer.length < afterLine + length + 2) return undefined;
      return { reply: { kind: "bulk", bytes: buffer.subarray(afterLine, afterLine + length) }, next: afterLine + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { reply: { kind: "array", items: null }, next: afterLine };
      const items: RespReply[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next);
        if (!item) return undefined;
        items.push(item.reply);
        next = item.next;
      }
      return { reply: { kind: "array", items }, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

interface RespConnection {
  /** Sends the commands back-to-back and resolves with their replies in order. */
  send(commands: readonly string[][]): Promise<RespReply[]>;
  readonly healthy: () => boolean;
  close(): void;
}

function openConnection(host: string, port: number): Promise<RespConnection> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port });
    const waiting: { expected: number; replies: RespReply[]; resolve(replies: RespReply[]): void; reject(error: Error): void }[] = [];
    let buffered: Buffer = Buffer.alloc(0);
    let broken: Error | undefined;
    const fail = (error: Error): void => {
      broken ??= error;
      for (const pending of waiting.splice(0)) pending.reject(broken);
      socket.destroy();
    };
    socket.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let offset = 0;
      try {
        for (let parsed = parseReply(buffered, offset); parsed; parsed = parseReply(buffered, offset)) {
          offset = parsed.next;
          const head = waiting[0];
          if (!head) throw new Error("redis sent a reply nobody asked for");
          head.replies.push(parsed.reply);
          if (head.replies.length === head.expected) {
            waiting.shift();
            head.resolve(head.replies);
          }
        }
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      buffered = buffered.subarray(offset);
    });
    socket.once("error", (error) => {
      fail(error);
      reject(error);
    });
    socket.once("close", () => fail(new Error("redis closed the connection")));
    socket.once("connect", () =>
      resolve({
        send: (commands) =>
          new Promise((resolveReplies, rejectReplies) => {
            if (broken) {
              rejectReplies(broken);
              return;
            }
            waiting.push({ expected: commands.length, replies: [], resolve: resolveReplies, reject: rejectReplies });
            socket.write(Buffer.concat(commands.map(encodeCommand)));
          }),
        healthy: () => broken === undefined,
        close: () => socket.destroy(),
      }),
    );
  });
}

interface ConnectionPool {
  /** Runs the commands back-to-back on one connection that nothing else uses meanwhile. */
  run(commands: readonly string[][]): Promise<RespReply[]>;
  close(): void;
}

function createConnectionPool(redisUrl: URL): ConnectionPool {
  const host = redisUrl.hostname;
  const port = Number(redisUrl.port || 6379);
  const db = redisUrl.pathname.replace(/^\//, "");
  const idle: RespConnection[] = [];
  const all = new Set<RespConnection>();
  const acquire = async (): Promise<RespConnection> => {
    const reused = idle.pop();
    if (reused) return reused;
    const fresh = await openConnection(host, port);
    all.add(fresh);
    if (db) {
      const [selected] = await fresh.send([["SELECT", db]]);
      if (selected?.kind === "error") throw new Error(selected.message);
    }
    return fresh;
  };
  return {
    run: async (commands) => {
      const connection = await acquire();
      try {
        return await connection.send(commands);
      } finally {
        if (connection.healthy()) idle.push(connection);
        else all.delete(connection);
      }
    },
    close: () => {
      for (const connection of all) connection.close();
      all.clear();
      idle.length = 0;
    },
  };
}
