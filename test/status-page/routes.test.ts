import http2 from "node:http2";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createMetricsRegistry } from "../../src/observability/metrics.js";
import { startService, type RunningService } from "../../src/cli/job-service.js";
import { createRecentErrors } from "../../src/status-page/recent-errors.js";
import type { StatusViewer } from "../../src/status-page/view-model.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { JobSetProgress, JobStore } from "../../src/store/store.js";
import type { JobSetStatus } from "../../src/subscriber/index.js";
import { http1Request } from "../support/http.js";

/** What a registry would list; the page reads it afresh at every refresh. */
let jobSets: JobSetStatus[] = [];
let running: RunningService | undefined;

function status(queue: string, jobSetId: string, fields: Partial<JobSetStatus> = {}): JobSetStatus {
  return { queue, jobSetId, role: "owner", cursor: "", ready: true, failure: undefined, lastEventAt: Date.now(), lastReadAt: Date.now(), ...fields };
}

async function start(options: { viewer?: StatusViewer; shutdownGraceSeconds?: number; store?: JobStore; intervalMs?: number } = {}): Promise<string> {
  const store = options.store ?? createMemoryStore({ ttlSeconds: 60 });
  const errors = createRecentErrors(10);
  errors.record({ source: "armada", message: "Armada event stream failed: UNAVAILABLE: refused", queue: "q", jobSetId: "broken" });
  running = await startService(
    {
      host: "127.0.0.1",
      port: 0,
      maxRequestBytes: 65536,
      shutdownGraceSeconds: options.shutdownGraceSeconds ?? 5,
      statusPageIntervalMs: options.intervalMs ?? 100,
    },
    {
      store,
      logger: pino({ level: "silent" }),
      metrics: createMetricsRegistry({ processMetrics: false }),
      jobSets: () => jobSets,
      errors,
      statusViewer: options.viewer && (() => options.viewer as StatusViewer),
    },
  );
  return `http://127.0.0.1:${running.listener.port}`;
}

afterEach(async () => {
  await running?.stop();
  running = undefined;
  jobSets = [];
});

interface ServerSentEvent {
  readonly event: string;
  readonly data: string;
}

/** Reads server-sent events until `enough` holds for those so far, then cancels; gives up after `timeoutMs`. */
async function sseEvents(url: string, enough: (events: readonly ServerSentEvent[]) => boolean, timeoutMs = 5000): Promise<ServerSentEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: ServerSentEvent[] = [];
  try {
    const response = await fetch(url, { signal: controller.signal });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const lines = block.split("\n");
        events.push({
          event: lines.find((l) => l.startsWith("event: "))?.slice(7) ?? "message",
          data: lines
            .filter((l) => l.startsWith("data: "))
            .map((l) => l.slice(6))
            .join("\n"),
        });
        if (enough(events)) return events;
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

describe("GET /", () => {
  it("serves the page with a strict content security policy, rows filtered on the server", async () => {
    jobSets = [status("q", "nightly-1", { cursor: "5:0:0:0" }), status("q", "hourly-1")];
    const base = await start();
    const page = await http1Request(`${base}/?q=NIGHTLY`);
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.headers["content-security-policy"]).toMatch(/default-src 'none'; script-src 'sha256-[^']+'/);
    expect(page.body).toContain('data-job-set="nightly-1"');
    expect(page.body).toContain("5:0:0:0");
    expect(page.body).not.toContain('data-job-set="hourly-1"');
    expect(page.body).toContain('value="NIGHTLY"');
    expect(page.body).toContain("UNAVAILABLE: refused");
  });

  it("shows only counts to an anonymous viewer when the auth hook says so", async () => {
    jobSets = [status("q", "secret-name")];
    const base = await start({ viewer: { anonymousCountsOnly: true } });
    const page = await http1Request(`${base}/`);
    expect(page.body).not.toContain("secret-name");
    expect(page.body).not.toContain("UNAVAILABLE: refused");
    expect(page.body).toMatch(/id="count-job-sets"><div class="label">job sets<\/div><div class="value">1</);
  });
});

describe("what the page reads", () => {
  it("reads a follower's progress from the store once per interval, however many pages are open", async () => {
    const inner = createMemoryStore({ ttlSeconds: 60 });
    const progress: JobSetProgress = { cursor: "8:0:0:0", caughtUp: true, error: "", updatedAt: Date.now() };
    await inner.write({ queue: "q", jobSetId: "followed" }, { jobs: new Map(), progress }, { expected: undefined, fence: 0 });
    let reads = 0;
    const store: JobStore = { ...inner, readProgress: (jobSet) => (reads++, inner.readProgress(jobSet)) };
    jobSets = [status("q", "followed", { role: "follower" }), status("q", "owned")];
    const base = await start({ store, intervalMs: 60_000 });
    const pages = await Promise.all([1, 2, 3, 4].map(() => http1Request(`${base}/`)));
    for (const page of pages)
      expect(page.body).toMatch(
        /data-job-set="followed"><td class="queue">q<\/td><td class="job-set">followed<\/td><td class="role">follower<\/td><td class="cursor">8:0:0:0</,
      );
    expect(reads).toBe(1);
  });

  it("lists a failing readiness check among the recent errors", async () => {
    const inner = createMemoryStore({ ttlSeconds: 60 });
    const store: JobStore = { ...inner, ping: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6379")) };
    const base = await start({ store });
    const page = await http1Request(`${base}/`);
    expect(page.body).toMatch(/id="check-store">.*failing.*connect ECONNREFUSED 127\.0\.0\.1:6379/);
    expect(page.body).toMatch(/<strong>store<\/strong>: <span class="message">connect ECONNREFUSED 127\.0\.0\.1:6379</);
  });
});

describe("GET /status/events", () => {
  it("pushes a fresh snapshot every interval: a new job set and a moved cursor appear without a new request", async () => {
    jobSets = [status("q", "first", { cursor: "1:0:0:0" })];
    const base = await start();
    const moved = (e: ServerSentEvent): boolean => e.data.includes("2:0:0:0") && e.data.includes('data-job-set="second"');
    const events = await sseEvents(
      `${base}/status/events?limit=5`,
      (so) => {
        // Change what the registry lists once the stream has shown the first state.
        if (so.length === 1) jobSets = [status("q", "first", { cursor: "2:0:0:0" }), status("q", "second")];
        return so.some(moved);
      },
      5000,
    );
    expect(events.map((e) => e.event)).toEqual(events.map(() => "status"));
    expect(events[0]?.data).toContain("1:0:0:0");
    expect(events.some(moved)).toBe(true);
  });

  it("works over HTTP/2 too, where connection headers are forbidden", async () => {
    jobSets = [status("q", "h2-set")];
    const base = await start();
    const session = http2.connect(base);
    try {
      const first = await new Promise<{ status: number; data: string }>((resolve, reject) => {
        const stream = session.request({ ":path": "/status/events" });
        let statusCode = 0;
        let data = "";
        stream.on("response", (headers) => (statusCode = Number(headers[":status"])));
        stream.on("data", (chunk: Buffer) => {
          data += chunk.toString();
          if (data.includes("\n\n")) {
            stream.close();
            resolve({ status: statusCode, data });
          }
        });
        stream.on("error", reject);
      });
      expect(first.status).toBe(200);
      expect(first.data).toMatch(/^event: status\ndata: /);
      expect(first.data).toContain('data-job-set="h2-set"');
    } finally {
      session.close();
    }
  });

  it("ends open streams cleanly at shutdown instead of holding up the grace period", async () => {
    const base = await start({ shutdownGraceSeconds: 120 });
    const response = await fetch(`${base}/status/events`);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const stopped = running?.stop();
    running = undefined;
    // Drains to a clean end of stream: an abort at the end of the grace period would reject instead.
    for (;;) if ((await reader.read()).done) break;
    await stopped;
  });
});
