import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { inspect } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createPrng, type Prng } from "../../src/simulator/prng.js";
import { LazyRequestHeaders, webHeaders } from "../../src/server/lazy-request-headers.js";

// The lazy Headers must be indistinguishable from the eager one the fast path
// built before: every sequence of calls below runs on both, from the same Node
// header object, and each call must answer alike or throw alike.

type NodeHeaders = http.IncomingHttpHeaders;

/** One call an interceptor or handler can make, by a label that names it in a failure. */
interface Op {
  readonly label: string;
  readonly run: (headers: Headers) => unknown;
}

/** Calls a Headers method with exactly these arguments, wrong types and counts included. */
function call(method: keyof Headers, ...args: unknown[]): Op {
  const shown = args.map((arg) => (typeof arg === "string" ? JSON.stringify(arg) : String(arg))).join(", ");
  return { label: `${String(method)}(${shown})`, run: (headers) => Reflect.apply(headers[method] as (...a: unknown[]) => unknown, headers, args) as unknown };
}

/** An op whose result is an iterator, read to the end. */
function drained(method: "entries" | "keys" | "values" | typeof Symbol.iterator): Op {
  return { label: `[...${String(method)}()]`, run: (headers) => [...(headers[method] as () => Iterable<unknown>).call(headers)] };
}

const THIS_ARG = { marker: true };
const ITERATIONS: readonly Op[] = [
  drained("entries"),
  drained("keys"),
  drained("values"),
  drained(Symbol.iterator),
  call("getSetCookie"),
  {
    label: "forEach(collect, thisArg)",
    run: (headers) => {
      const seen: unknown[] = [];
      headers.forEach(function (this: unknown, value, key, iterable) {
        seen.push([value, key, iterable === headers, this === THIS_ARG]);
      }, THIS_ARG);
      return seen;
    },
  },
  call("forEach"),
  { label: "new Headers(h)", run: (headers) => [...new Headers(headers)] },
  { label: "new Response(null, {headers: h}).headers", run: (headers) => [...new Response(null, { headers }).headers] },
  { label: "inspect(h)", run: (headers) => inspect(headers) },
  { label: "toString tag", run: (headers) => Object.prototype.toString.call(headers) },
];

const MUTATIONS: readonly Op[] = [
  // Well-formed: new names, names Node's object has (in other cases), set-cookie and cookie with their own joining.
  ...[
    ["authorization", "Bearer other"],
    ["Set-Cookie", " c=3 "],
    ["X-New", "  padded\t"],
    ["x-dup", "third"],
    ["cookie", "z=9"],
  ].map((args) => call("append", ...args)),
  ...[
    ["content-type", "text/plain"],
    ["COOKIE", "z=1"],
    ["x-latin1", "\u00e9\u00ff"],
    ["host", ""],
  ].map((args) => call("set", ...args)),
  ...["authorization", "Set-Cookie", "missing"].map((name) => call("delete", name)),
  // Refused by undici: a pseudo-header, a space in a name, a newline in a value, a character above latin1, too few arguments.
  call("append", ":path", "/elsewhere"),
  call("set", "bad name", "v"),
  call("append", "x-bad", "a\nb"),
  call("append", "x-wide", "\u65e5\u672c"),
  call("append", "x-only-name"),
  call("set", "x-only-name"),
  call("delete"),
  call("append"),
];

/** Names that are not plain tokens, or not strings, which undici must judge. */
const ODD_NAMES: readonly unknown[] = [
  ":path",
  ":authority",
  ":method",
  "",
  " authorization",
  "authorization ",
  "bad name",
  "x\u00e9",
  "\u65e5\u672c",
  "a\nb",
  "a:b",
  undefined,
  null,
  42,
  Symbol("name"),
  { toString: () => "Authorization" },
];
/** Plain tokens a handler might ask for that no request carries, some of them Object.prototype's own names. */
const ABSENT_NAMES: readonly string[] = ["missing", "x-absent", "constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "length", "0"];

function mixedCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}

function reads(node: NodeHeaders): Op[] {
  const names = [...new Set(Object.keys(node).flatMap((name) => [name, name.toUpperCase(), mixedCase(name)]))];
  const all: unknown[] = [...names, ...ABSENT_NAMES, "SET-COOKIE", "Cookie", ...ODD_NAMES];
  return [...all.flatMap((name) => [call("get", name), call("has", name)]), call("get"), call("has"), call("get", "authorization", "extra")];
}

/** One call's answer as comparable data: its result, or the kind and message of what it threw. */
function outcome(op: Op, headers: Headers): unknown {
  try {
    return { label: op.label, result: op.run(headers) };
  } catch (error) {
    return { label: op.label, threw: error instanceof Error ? [error.constructor.name, error.message] : error };
  }
}

function expectAlike(node: NodeHeaders, ops: readonly Op[]): void {
  const lazy = new LazyRequestHeaders(node);
  const eager = webHeaders(node);
  expect(ops.map((op) => outcome(op, lazy))).toEqual(ops.map((op) => outcome(op, eager)));
}

/** HTTP/1.1-shaped: Node's object inherits from Object.prototype, repeats are joined, set-cookie is an array. */
const HTTP1: NodeHeaders = {
  host: "127.0.0.1:8080",
  "content-type": "application/json",
  authorization: "Basic YWlyZmxvdzpwYXNz",
  "x-probe": "  padded both ends \t",
  "x-tab": "\tleading tab",
  "x-empty": "",
  "x-spaces": "   ",
  "x-dup": "a, b",
  cookie: "x=1; y=2",
  "set-cookie": ["a=1", " b=2 ", ""],
  "x-latin1": "caf\u00e9 \u00ff\u0080",
  // UTF-8 bytes as Node hands them over: one latin1 character per byte.
  "x-unicode": Buffer.from("日本 ✓", "utf8").toString("latin1"),
  "x-inner-space": "a  \t b",
};

/** HTTP/2-shaped: a null-prototype object with pseudo-headers, arrays and an undefined entry. */
function http2Shaped(): NodeHeaders {
  const node = Object.create(null) as NodeHeaders;
  Object.assign(node, {
    ":method": "POST",
    ":path": "/jobservice.JobService/GetJobStatus",
    ":authority": "127.0.0.1:8080",
    ":scheme": "http",
    "content-type": "application/grpc",
    te: "trailers",
    "grpc-timeout": "5S",
    authorization: " Bearer token ",
    "set-cookie": ["one=1"],
    "x-absent-value": undefined,
    "x-many": ["first ", " second", "\tthird\t"],
    cookie: ["p=1 ", " q=2"],
    "x-none": [],
  });
  return node;
}

const SYNTHETIC: Record<string, () => NodeHeaders> = {
  "HTTP/1.1-shaped": () => HTTP1,
  "HTTP/2-shaped": http2Shaped,
  "empty, Object.prototype": () => ({}),
  "empty, null prototype": () => Object.create(null) as NodeHeaders,
  "only pseudo-headers": () => ({ ":path": "/", ":method": "GET" }),
};

/**
 * The header object `server` hands its handler for the one request `send`
 * makes; `send` answers what to undo once it has arrived.
 */
async function capture(server: net.Server, send: (port: number) => () => Promise<void> | void): Promise<NodeHeaders> {
  const headers = new Promise<NodeHeaders>((resolve) =>
    server.once("request", (req: { headers: NodeHeaders }, res: { end(): void }) => {
      resolve(req.headers);
      res.end();
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const undo = send((server.address() as AddressInfo).port);
  const result = await headers;
  await undo();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return result;
}

const HTTP1_REQUEST = [
  "POST /jobservice.JobService/GetJobStatus HTTP/1.1",
  "Host: 127.0.0.1",
  "Content-Type: application/json",
  "Authorization:   Basic YWlyZmxvdzpwYXNz  ",
  "Authorization: Basic ignored-duplicate",
  "X-Dup: a",
  "X-Dup:  b ",
  "Set-Cookie: a=1",
  "Set-Cookie:  b=2 ",
  "Cookie: x=1",
  "Cookie: y=2",
  "X-Empty:",
  "X-Tab:\tvalue\t",
  "__proto__: polluting",
  "Constructor: named like a method",
  "Content-Length: 0",
];

function sendHttp1(port: number): () => void {
  const socket = net.connect(port, "127.0.0.1");
  // Raw bytes: UTF-8 and latin1 values as a client would send them, which Node's client would not.
  socket.end(
    Buffer.concat([
      Buffer.from(HTTP1_REQUEST.join("\r\n") + "\r\n", "latin1"),
      Buffer.from("X-Utf8: 日本 é\r\n", "utf8"),
      Buffer.from([...Buffer.from("X-Latin1: caf"), 0xe9, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]),
    ]),
  );
  return () => void socket.destroy();
}

function sendHttp2(port: number): () => Promise<void> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const stream = session.request({
    ":method": "POST",
    ":path": "/jobservice.JobService/GetJobStatus",
    "content-type": "application/grpc",
    te: "trailers",
    authorization: "Bearer token",
    "set-cookie": ["a=1", "b=2"],
    cookie: ["x=1", "y=2"],
    "x-dup": ["a", "b"],
    "x-empty": "",
    "x-utf8": Buffer.from("日本 é", "utf8").toString("latin1"),
    "x-latin1": "caf\u00e9\u00ff",
  });
  stream.resume();
  stream.end();
  return async () => {
    await new Promise<void>((resolve) => stream.on("close", resolve));
    session.close();
  };
}

/** Header objects Node's own parsers made, from requests that carry what the shapes above imitate; taken before the tests are declared, one per corpus entry. */
const captured: Record<string, NodeHeaders> = {
  "captured from Node's HTTP/1.1 parser": await capture(http.createServer(), sendHttp1),
  "captured from Node's HTTP/2 server": await capture(http2.createServer(), sendHttp2),
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe("Node's header objects", () => {
  // The lazy reads rely on these: were any false, webHeaders could throw or drop what a lazy read would answer.
  it("have lowercase token names and latin1 values without NUL, CR or LF", () => {
    for (const [name, node] of Object.entries(captured)) {
      for (const [key, value] of Object.entries(node)) {
        if (key.startsWith(":")) continue;
        expect(key, name).toMatch(/^[!#$%&'*+\-.^_`|~0-9a-z]+$/);
        for (const item of typeof value === "string" ? [value] : (value ?? [])) expect(item, `${name}: ${key}`).toMatch(/^[^\0\r\n\u0100-\uffff]*$/);
      }
    }
    expect(Object.keys(captured)).toHaveLength(2);
  });
});

describe("LazyRequestHeaders against webHeaders", () => {
  it("is a Headers and overrides every operation of Headers.prototype", () => {
    const lazy = new LazyRequestHeaders({});
    expect(lazy).toBeInstanceOf(Headers);
    // An operation undici adds later would otherwise read the empty list underneath.
    const operations = Reflect.ownKeys(Headers.prototype).filter((key) => {
      const descriptor = Object.getOwnPropertyDescriptor(Headers.prototype, key);
      return key !== "constructor" && typeof descriptor?.value === "function";
    });
    expect(operations.length).toBeGreaterThanOrEqual(11);
    for (const key of operations) expect(Object.hasOwn(LazyRequestHeaders.prototype, key), String(key)).toBe(true);
  });

  for (const [name, node] of [...Object.entries(SYNTHETIC).map(([label, make]): [string, NodeHeaders] => [label, make()]), ...Object.entries(captured)]) {
    describe(name, () => {
      it("answers every read alike, before and after iterating", () => {
        expectAlike(node, [...reads(node), ...ITERATIONS, ...reads(node)]);
      });

      it("answers alike around each mutation", () => {
        for (const mutation of MUTATIONS) expectAlike(node, [...reads(node), mutation, ...reads(node), ...ITERATIONS, mutation, ...reads(node)]);
      });

      it("answers alike when the first call is not a read", () => {
        for (const first of [...MUTATIONS, ...ITERATIONS]) expectAlike(node, [first, ...reads(node), ...ITERATIONS]);
      });

      it("answers alike in random sequences", () => {
        const pool = [...reads(node), ...MUTATIONS, ...ITERATIONS];
        const prng: Prng = createPrng(0x1a2b);
        for (let sequence = 0; sequence < 300; sequence++) {
          const ops = Array.from({ length: prng.int(1, 12) }, () => pool[prng.int(0, pool.length - 1)]!);
          expectAlike(node, ops);
        }
      });
    });
  }

  it("answers reads from Node's object without building the list", () => {
    const append = vi.spyOn(Headers.prototype, "append");
    const lazy = new LazyRequestHeaders(http2Shaped());
    expect(lazy.get("Authorization")).toBe("Bearer token");
    expect(lazy.has("grpc-timeout")).toBe(true);
    expect(lazy.get("x-many")).toBe("first, second, third");
    expect(lazy.get("cookie")).toBe("p=1; q=2");
    expect(append).not.toHaveBeenCalled();
    lazy.set("authorization", "Bearer replaced");
    expect(append.mock.calls.length).toBeGreaterThan(0);
    expect(lazy.get("authorization")).toBe("Bearer replaced");
  });

  it("fills from the HTTP/1.1 object as webHeaders does", () => {
    expect([...webHeaders(HTTP1)]).toEqual([
      ["authorization", "Basic YWlyZmxvdzpwYXNz"],
      ["content-type", "application/json"],
      ["cookie", "x=1; y=2"],
      ["host", "127.0.0.1:8080"],
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
      ["set-cookie", ""],
      ["x-dup", "a, b"],
      ["x-empty", ""],
      ["x-inner-space", "a  \t b"],
      ["x-latin1", "caf\u00e9 \u00ff\u0080"],
      ["x-probe", "padded both ends"],
      ["x-spaces", ""],
      ["x-tab", "leading tab"],
      ["x-unicode", Buffer.from("日本 ✓", "utf8").toString("latin1")],
    ]);
  });
});
