import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawExchange, startFuzzTarget, type FuzzTarget } from "../support/fuzz-target.js";
import { grpcFrame, http1Request, http2Request } from "../support/http.js";

const MAX_CONNECTIONS = 200;
const MAX_HEADER_BYTES = 4096;
const MAX_CONCURRENT_STREAMS = 8;
const IDLE_TIMEOUT_SECONDS = 2;
const REQUEST_TIMEOUT_SECONDS = 1;
/** How late after a deadline the server may act: its checks run on a timer, and the machine is shared. */
const SLACK_MS = 2_500;
const IDLE_CONNECTIONS = 3_000;
const PATH = "/jobservice.JobService/GetJobStatus";

let target: FuzzTarget;
let baselineFds: number;
beforeAll(async () => {
  target = await startFuzzTarget({
    JOBSERVICE_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    JOBSERVICE_MAX_HEADER_BYTES: String(MAX_HEADER_BYTES),
    JOBSERVICE_MAX_CONCURRENT_STREAMS: String(MAX_CONCURRENT_STREAMS),
    JOBSERVICE_IDLE_TIMEOUT_SECONDS: String(IDLE_TIMEOUT_SECONDS),
    JOBSERVICE_REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_SECONDS),
  });
  await http1Request(`${target.url}/healthz`);
  baselineFds = target.stats().fds;
}, 30_000);
afterAll(async () => {
  await target?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function answersHealth(): Promise<number> {
  return http1Request(`${target.url}/healthz`).then(
    (res) => res.status,
    () => -1,
  );
}

describe("connection limits (JOBSERVICE_MAX_CONNECTIONS, JOBSERVICE_IDLE_TIMEOUT_SECONDS)", () => {
  it(`holds at most ${MAX_CONNECTIONS} of ${IDLE_CONNECTIONS} idle connections, and closes the rest after the idle timeout`, async () => {
    let open = 0;
    const sockets: net.Socket[] = [];
    await Promise.all(
      Array.from(
        { length: IDLE_CONNECTIONS },
        () =>
          new Promise<void>((resolve) => {
            const socket = net.connect(target.port, "127.0.0.1");
            sockets.push(socket);
            socket.on("connect", () => {
              open++;
              resolve();
            });
            socket.on("error", () => resolve());
            socket.on("close", () => {
              open--;
              resolve();
            });
          }),
      ),
    );
    try {
      // Past the limit the server closes connections as it accepts them.
      await until(() => open <= MAX_CONNECTIONS, 5_000);
      const held = target.stats().fds - baselineFds;
      expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS);
      expect(held).toBeLessThanOrEqual(MAX_CONNECTIONS + 5);
      // Silent connections count as idle: all go within the idle timeout.
      expect(await until(() => open === 0, IDLE_TIMEOUT_SECONDS * 1000 + SLACK_MS)).toBe(true);
      expect(await answersHealth()).toBe(200);
      expect(await until(() => target.stats().fds <= baselineFds + 5, 2_000)).toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    expect(target.alive()).toBe(true);
  }, 30_000);

  it("closes an idle HTTP/1.1 keep-alive connection and an idle HTTP/2 session after the idle timeout", async () => {
    const h1 = await rawExchange(target.port, [Buffer.from("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")], { waitMs: IDLE_TIMEOUT_SECONDS * 1000 + SLACK_MS });
    expect(h1.received.toString("latin1")).toMatch(/^HTTP\/1\.1 200/);
    expect(h1.closedByServer).toBe(true);

    const session = http2.connect(target.url);
    const events: string[] = [];
    session.on("goaway", () => events.push("goaway"));
    const closed = new Promise<void>((resolve) => session.on("close", () => resolve()));
    session.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      const stream = session.request({ ":method": "GET", ":path": "/healthz" });
      stream.on("error", reject);
      stream.resume();
      stream.on("end", () => resolve());
    });
    const outcome = await Promise.race([closed.then(() => "closed"), sleep(IDLE_TIMEOUT_SECONDS * 1000 + SLACK_MS).then(() => "still open")]);
    session.destroy();
    expect(outcome).toBe("closed");
    expect(events).toContain("goaway");
  }, 15_000);
});

describe("slow senders (JOBSERVICE_REQUEST_TIMEOUT_SECONDS)", () => {
  it("answers 408 to an HTTP/1.1 request whose headers trickle in, and closes it", async () => {
    const lines = [Buffer.from(`POST ${PATH} HTTP/1.1\r\nHost: x\r\n`), ...Array.from({ length: 30 }, (_, i) => Buffer.from(`X-Slow-${i}: y\r\n`))];
    const started = Date.now();
    const slow = await Promise.all(
      Array.from({ length: 10 }, () => rawExchange(target.port, lines, { gapMs: 200, waitMs: REQUEST_TIMEOUT_SECONDS * 1000 + SLACK_MS })),
    );
    for (const exchange of slow) {
      expect(exchange.received.toString("latin1")).toMatch(/^HTTP\/1\.1 408/);
      expect(exchange.closedByServer).toBe(true);
    }
    // Cut off at the request timeout, long before the 30 lines × 200 ms the senders needed.
    expect(Date.now() - started).toBeLessThan(6_000);
  }, 15_000);

  it("resets an HTTP/2 stream whose body trickles in, and keeps the connection for others", async () => {
    const session = http2.connect(target.url);
    session.on("error", () => undefined);
    try {
      const stream = session.request({ ":method": "POST", ":path": PATH, "content-type": "application/grpc", te: "trailers" });
      let rst: number | undefined;
      const closed = new Promise<void>((resolve) => stream.on("close", () => ((rst = stream.rstCode), resolve())));
      stream.on("error", () => undefined);
      const drip = setInterval(() => stream.write(Buffer.from([0])), 200);
      const outcome = await Promise.race([closed.then(() => "reset"), sleep(REQUEST_TIMEOUT_SECONDS * 1000 + SLACK_MS).then(() => "still open")]);
      clearInterval(drip);
      expect(outcome).toBe("reset");
      expect(rst).toBe(http2.constants.NGHTTP2_CANCEL);
      // The session survives: another call on it is answered.
      const health = await new Promise<number>((resolve, reject) => {
        const next = session.request({ ":method": "GET", ":path": "/healthz" });
        next.on("response", (h) => resolve(Number(h[":status"])));
        next.on("error", reject);
        next.resume();
      });
      expect(health).toBe(200);
    } finally {
      session.destroy();
    }
  }, 15_000);
});

describe("header size (JOBSERVICE_MAX_HEADER_BYTES)", () => {
  const body = JSON.stringify({ queue: "q", jobSetId: "s", jobId: "j" });
  const padded = (bytes: number) => ({ "content-type": "application/json", "x-pad": "p".repeat(bytes) });

  it("answers 431 over HTTP/1.1 past the limit, and serves headers within it", async () => {
    const over = await http1Request(`${target.url}${PATH}`, { method: "POST", headers: padded(MAX_HEADER_BYTES + 100), body });
    expect(over.status).toBe(431);
    const within = await http1Request(`${target.url}${PATH}`, { method: "POST", headers: padded(MAX_HEADER_BYTES / 2), body });
    expect(JSON.parse(within.body)).toEqual({ state: "JOB_ID_NOT_FOUND" });
  });

  it("answers RESOURCE_EXHAUSTED to gRPC and 431 with a Connect error to others over HTTP/2", async () => {
    const frame = grpcFrame(Buffer.from([0x0a, 1, 0x71, 0x12, 1, 0x73, 0x1a, 1, 0x6a]));
    const grpcHeaders = { ":method": "POST", ":path": PATH, "content-type": "application/grpc", te: "trailers" };
    const grpcOver = await http2Request(target.url, { ...grpcHeaders, "x-pad": "p".repeat(MAX_HEADER_BYTES) }, frame);
    expect(grpcOver.status).toBe(200);
    expect(grpcOver.headers["grpc-status"]).toBe("8");
    expect(decodeURIComponent(String(grpcOver.headers["grpc-message"]))).toMatch(/request headers of \d+ bytes exceed the limit of 4096 bytes/);
    const grpcWithin = await http2Request(target.url, { ...grpcHeaders, "x-pad": "p".repeat(MAX_HEADER_BYTES / 2) }, frame);
    expect(grpcWithin.trailers["grpc-status"]).toBe("0");

    const connectOver = await http2Request(target.url, { ":method": "POST", ":path": PATH, ...padded(MAX_HEADER_BYTES) }, body);
    expect(connectOver.status).toBe(431);
    expect(JSON.parse(connectOver.body)).toMatchObject({ code: "resource_exhausted" });
  });
});

describe("HTTP/2 streams per connection (JOBSERVICE_MAX_CONCURRENT_STREAMS)", () => {
  it(`serves ${MAX_CONCURRENT_STREAMS} concurrent streams and refuses the ones beyond`, async () => {
    // A client that ignores the server's SETTINGS_MAX_CONCURRENT_STREAMS, as a hostile one would.
    const session = http2.connect(target.url, { peerMaxConcurrentStreams: 1000 });
    session.on("error", () => undefined);
    await new Promise<void>((resolve) => session.once("remoteSettings", () => resolve()));
    const outcomes: Promise<string>[] = [];
    try {
      for (let i = 0; i < MAX_CONCURRENT_STREAMS * 3; i++) {
        // Health Watch streams stay open, so they are all concurrent.
        const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Watch", "content-type": "application/grpc", te: "trailers" });
        stream.end(grpcFrame(new Uint8Array()));
        stream.on("error", () => undefined);
        outcomes.push(
          new Promise((resolve) => {
            stream.on("response", () => resolve("served"));
            stream.on("close", () => resolve(stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM ? "refused" : `closed ${stream.rstCode}`));
          }),
        );
      }
      const settled = await Promise.all(outcomes);
      expect(settled.filter((o) => o === "served")).toHaveLength(MAX_CONCURRENT_STREAMS);
      expect(settled.filter((o) => o === "refused")).toHaveLength(MAX_CONCURRENT_STREAMS * 2);
    } finally {
      session.destroy();
    }
  });
});

describe("after all of it", () => {
  it("is alive, answers, and holds no more descriptors than before", async () => {
    expect(target.alive()).toBe(true);
    expect(await answersHealth()).toBe(200);
    expect(await until(() => target.stats().fds <= baselineFds + 5, 5_000)).toBe(true);
  });
});
