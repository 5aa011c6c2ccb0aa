import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobDetails_State as FineState, JobService, type JobServiceResponse } from "../../src/gen/jobservice/jobservice_pb.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { JobSetKey, JobSetProgress } from "../../src/store/store.js";
import { jobRecord, seedJobs, State, writeNext } from "../support/jobs.js";
import { http1Request } from "../support/http.js";
import { startTestService, type TestService } from "../support/service.js";

const run = promisify(execFile);

let service: TestService;
const jobSet = { queue: "analytics", jobSetId: "scheduled__2024-01-01T00:00:00+00:00" };
const MAX_BATCH = 5;

beforeAll(async () => {
  service = await startTestService({ maxBatchIds: MAX_BATCH, watchPollMs: 50 });
  await seedJobs(service.store, jobSet, {
    "job-ok": jobRecord(State.SUCCEEDED, {
      lastEvent: "succeeded",
      submittedAt: 1_700_000_000_000,
      startedAt: 1_700_000_001_000,
      finishedAt: 1_700_000_002_500,
    }),
    "job-bad": jobRecord(State.FAILED, {
      lastEvent: "failed",
      error: "OOMKilled (exit code 137, cause OOM)",
      exitCode: 137,
      cause: "OOM",
      cluster: "eu-1",
      node: "node-7",
      runAttempts: 2,
      messageId: "5:0:0:1",
    }),
    "job-run": jobRecord(State.RUNNING, { lastEvent: "running" }),
  });
});
afterAll(() => service.stop());

const protocols: Record<string, () => Transport> = {
  "gRPC over h2c": () => createGrpcTransport({ baseUrl: service.url }),
  "gRPC-Web over HTTP/1.1": () => createGrpcWebTransport({ baseUrl: service.url, httpVersion: "1.1" }),
  "Connect JSON over HTTP/1.1": () => createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }),
  "Connect binary over h2c": () => createConnectTransport({ baseUrl: service.url, httpVersion: "2", useBinaryFormat: true }),
};

let counter = 0;
function freshJobSet(): JobSetKey {
  counter++;
  return { queue: "watch", jobSetId: `set-${counter}` };
}

function healthy(cursor: string, overrides: Partial<JobSetProgress> = {}): JobSetProgress {
  return { cursor, caughtUp: true, error: "", updatedAt: Date.now() + counter++, ...overrides };
}

function states(messages: readonly JobServiceResponse[]): string[] {
  return messages.map((m) => State[m.state]);
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  const outcome = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!outcome) throw new Error("the call succeeded");
  return outcome;
}

/** Reads a stream in the background; `next(n)` waits until `n` messages have arrived. */
function collect<T>(stream: AsyncIterable<T>) {
  const messages: T[] = [];
  let wake: () => void = () => undefined;
  let settled = false;
  const done = (async () => {
    try {
      for await (const message of stream) {
        messages.push(message);
        wake();
      }
      return "ended" as const;
    } finally {
      settled = true;
      wake();
    }
  })();
  done.catch(() => undefined);
  return {
    messages,
    done,
    async next(count: number): Promise<T[]> {
      const deadline = Date.now() + 5_000;
      while (messages.length < count) {
        if (settled || Date.now() > deadline) throw new Error(`only ${messages.length} of ${count} messages arrived`);
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), done.catch(() => undefined), new Promise((r) => setTimeout(r, 100))]);
      }
      return messages;
    },
  };
}

describe.each(Object.entries(protocols))("%s", (_name, transport) => {
  let client: Client<typeof JobService>;
  beforeAll(() => {
    client = createClient(JobService, transport());
  });

  it("GetJobStatuses answers each id exactly as GetJobStatus does, duplicates and unknown ids included", async () => {
    const ids = ["job-ok", "job-bad", "job-run", "nope", "job-ok"];
    const reply = await client.getJobStatuses({ ...jobSet, jobIds: ids });
    expect(Object.keys(reply.statuses).sort()).toEqual(["job-bad", "job-ok", "job-run", "nope"]);
    for (const jobId of ids) {
      const single = await client.getJobStatus({ ...jobSet, jobId });
      expect(reply.statuses[jobId]).toMatchObject({ state: single.state, error: single.error });
    }
    expect(reply.statuses["job-bad"]).toMatchObject({ state: State.FAILED, error: "OOMKilled (exit code 137, cause OOM)" });
    expect(reply.statuses.nope?.state).toBe(State.JOB_ID_NOT_FOUND);
  });

  it("GetJobStatuses refuses more ids than the limit with INVALID_ARGUMENT naming it, and empty ids", async () => {
    const tooMany = await failure(client.getJobStatuses({ ...jobSet, jobIds: Array.from({ length: MAX_BATCH + 1 }, (_, i) => `j${i}`) }));
    expect(tooMany.code).toBe(Code.InvalidArgument);
    expect(tooMany.rawMessage).toBe(`job_ids has ${MAX_BATCH + 1} ids; at most ${MAX_BATCH} (JOBSERVICE_MAX_BATCH_IDS) are allowed per call`);
    expect((await client.getJobStatuses({ ...jobSet, jobIds: Array.from({ length: MAX_BATCH }, (_, i) => `j${i}`) })).statuses).toHaveProperty("j0");
    const empty = await failure(client.getJobStatuses({ ...jobSet, jobIds: ["a", ""] }));
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(empty.rawMessage).toBe("job_ids[1] must not be empty");
    const noSet = await failure(client.getJobStatuses({ queue: "q", jobSetId: "", jobIds: ["a"] }));
    expect(noSet.rawMessage).toBe("job_set_id must not be empty");
  });

  it("GetJobStatuses says CONNECTION_ERR for unfinished jobs of a failing job set, like GetJobStatus", async () => {
    const failing = freshJobSet();
    await writeNext(service.store, failing, {
      jobs: new Map([
        ["done", jobRecord(State.SUCCEEDED)],
        ["busy", jobRecord(State.RUNNING)],
      ]),
      progress: healthy("1:0:0:0", { error: "Armada event stream failed: UNAVAILABLE: gone" }),
    });
    const reply = await client.getJobStatuses({ ...failing, jobIds: ["done", "busy", "unknown"] });
    expect(reply.statuses.done?.state).toBe(State.SUCCEEDED);
    expect(reply.statuses.busy).toMatchObject({ state: State.CONNECTION_ERR, error: "Armada event stream failed: UNAVAILABLE: gone" });
    expect(reply.statuses.unknown?.state).toBe(State.CONNECTION_ERR);
  });

  it("GetJobDetails gives the record, Armada's finer state and the job set's freshness", async () => {
    const bad = await client.getJobDetails({ ...jobSet, jobId: "job-bad" });
    expect(bad.status).toMatchObject({ state: State.FAILED, error: "OOMKilled (exit code 137, cause OOM)" });
    expect(bad).toMatchObject({
      state: FineState.FAILED,
      cluster: "eu-1",
      node: "node-7",
      exitCode: 137,
      failureCause: "OOM",
      failureReason: "OOMKilled (exit code 137, cause OOM)",
      runAttempts: 2,
      lastMessageId: "5:0:0:1",
      lastEvent: "failed",
    });
    expect(bad.freshness).toMatchObject({ cursor: "9:0:0:0", healthy: true, caughtUp: true, error: "" });
    expect(Number(bad.freshness?.lastHeardAt?.seconds)).toBeGreaterThan(1_700_000_000);
    const ok = await client.getJobDetails({ ...jobSet, jobId: "job-ok" });
    expect(ok.state).toBe(FineState.SUCCEEDED);
    expect(Number(ok.finishedAt?.seconds) * 1000 + (ok.finishedAt?.nanos ?? 0) / 1e6).toBe(1_700_000_002_500);
    expect(ok.exitCode).toBeUndefined();
    const unknown = await client.getJobDetails({ ...jobSet, jobId: "nope" });
    expect(unknown).toMatchObject({ state: FineState.UNSPECIFIED, status: { state: State.JOB_ID_NOT_FOUND } });
  });

  it("WatchJobStatus sends the current answer, then each change, and ends right after the terminal one", async () => {
    const set = freshJobSet();
    await writeNext(service.store, set, { jobs: new Map([["j", jobRecord(State.SUBMITTED)]]), progress: healthy("1:0:0:0") });
    const watch = collect(client.watchJobStatus({ ...set, jobId: "j" }));
    await watch.next(1);
    await writeNext(service.store, set, { jobs: new Map([["j", jobRecord(State.RUNNING, { messageId: "2:0:0:0" })]]), progress: healthy("2:0:0:0") });
    await watch.next(2);
    // A write that changes nothing for this job sends nothing.
    await writeNext(service.store, set, { jobs: new Map([["other", jobRecord(State.RUNNING)]]), progress: healthy("3:0:0:0") });
    await writeNext(service.store, set, {
      jobs: new Map([["j", jobRecord(State.FAILED, { error: "boom", messageId: "4:0:0:0" })]]),
      progress: healthy("4:0:0:0"),
    });
    await expect(watch.done).resolves.toBe("ended");
    expect(states(watch.messages)).toEqual(["SUBMITTED", "RUNNING", "FAILED"]);
    expect(watch.messages[2]?.error).toBe("boom");
  });

  it("WatchJobStatus of a finished job sends its state and ends", async () => {
    const watch = collect(client.watchJobStatus({ ...jobSet, jobId: "job-ok" }));
    await expect(watch.done).resolves.toBe("ended");
    expect(states(watch.messages)).toEqual(["SUCCEEDED"]);
  });

  it("WatchJobStatus of an unknown job stays open with JOB_ID_NOT_FOUND until the job appears", async () => {
    const set = freshJobSet();
    await writeNext(service.store, set, { jobs: new Map(), progress: healthy("1:0:0:0") });
    const watch = collect(client.watchJobStatus({ ...set, jobId: "late" }));
    await watch.next(1);
    await writeNext(service.store, set, { jobs: new Map([["late", jobRecord(State.RUNNING)]]), progress: healthy("2:0:0:0") });
    await watch.next(2);
    await writeNext(service.store, set, { jobs: new Map([["late", jobRecord(State.CANCELLED)]]), progress: healthy("3:0:0:0") });
    await expect(watch.done).resolves.toBe("ended");
    expect(states(watch.messages)).toEqual(["JOB_ID_NOT_FOUND", "RUNNING", "CANCELLED"]);
  });

  it("WatchJobStatus of a job that never appears ends at the caller's deadline", async () => {
    const received: JobServiceResponse[] = [];
    const error = await failure(
      (async () => {
        for await (const message of client.watchJobStatus({ ...jobSet, jobId: "never" }, { timeoutMs: 300 })) received.push(message);
      })(),
    );
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(states(received)).toEqual(["JOB_ID_NOT_FOUND"]);
  });

  it("WatchJobStatus says CONNECTION_ERR once while the upstream fails, then the real state", async () => {
    const set = freshJobSet();
    await writeNext(service.store, set, { jobs: new Map([["j", jobRecord(State.RUNNING)]]), progress: healthy("1:0:0:0") });
    const watch = collect(client.watchJobStatus({ ...set, jobId: "j" }));
    await watch.next(1);
    await writeNext(service.store, set, { jobs: new Map(), progress: healthy("1:0:0:0", { error: "Armada event stream failed: UNAVAILABLE: a" }) });
    await watch.next(2);
    await writeNext(service.store, set, { jobs: new Map(), progress: healthy("1:0:0:0", { error: "Armada event stream failed: UNAVAILABLE: b" }) });
    await writeNext(service.store, set, { jobs: new Map(), progress: healthy("1:0:0:0") });
    await watch.next(3);
    await writeNext(service.store, set, { jobs: new Map([["j", jobRecord(State.SUCCEEDED)]]), progress: healthy("2:0:0:0") });
    await expect(watch.done).resolves.toBe("ended");
    expect(states(watch.messages)).toEqual(["RUNNING", "CONNECTION_ERR", "RUNNING", "SUCCEEDED"]);
  });

  it("WatchJobSet sends every job's current answer, then every change, until cancelled", async () => {
    const set = freshJobSet();
    await writeNext(service.store, set, {
      jobs: new Map([
        ["a", jobRecord(State.RUNNING, { messageId: "1:0:0:1" })],
        ["b", jobRecord(State.SUCCEEDED, { messageId: "1:0:0:2" })],
      ]),
      progress: healthy("1:0:0:2"),
    });
    const controller = new AbortController();
    const watch = collect(client.watchJobSet(set, { signal: controller.signal }));
    const initial = await watch.next(2);
    expect(initial.map((c) => [c.jobId, State[c.status?.state ?? 0], c.messageId]).sort()).toEqual([
      ["a", "RUNNING", "1:0:0:1"],
      ["b", "SUCCEEDED", "1:0:0:2"],
    ]);
    await writeNext(service.store, set, { jobs: new Map([["c", jobRecord(State.SUBMITTED, { messageId: "2:0:0:0" })]]), progress: healthy("2:0:0:0") });
    await writeNext(service.store, set, {
      jobs: new Map([["a", jobRecord(State.FAILED, { error: "x", messageId: "3:0:0:0" })]]),
      progress: healthy("3:0:0:0"),
    });
    const all = await watch.next(4);
    expect(all.slice(2).map((c) => [c.jobId, State[c.status?.state ?? 0], c.messageId])).toEqual([
      ["c", "SUBMITTED", "2:0:0:0"],
      ["a", "FAILED", "3:0:0:0"],
    ]);
    controller.abort();
    await expect(watch.done).rejects.toThrow();
    expect(watch.messages).toHaveLength(4);
  });
});

/** Retries opening a watch until one is accepted (its first message arrives), for at most a few seconds. */
async function eventuallyOpen(open: () => ReturnType<typeof collect<JobServiceResponse>>): Promise<ReturnType<typeof collect<JobServiceResponse>>> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const watch = open();
    const first = await watch.next(1).then(
      () => "open" as const,
      () => "refused" as const,
    );
    if (first === "open") return watch;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("no watch slot was freed");
}

/** A Connect server-streaming call over HTTP/1.1 with a 300 ms deadline, and the envelopes that came back. */
async function watchWithDeadline(path: string, request: unknown): Promise<{ status: number; frames: { flags: number; json: unknown }[] }> {
  const message = Buffer.from(JSON.stringify(request));
  const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
  envelope.writeUInt32BE(message.length, 1);
  const res = await http1Request(`${service.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/connect+json", "connect-timeout-ms": "300" },
    body: envelope,
  });
  const frames: { flags: number; json: unknown }[] = [];
  const bytes = Buffer.from(res.body, "latin1");
  for (let at = 0; at + 5 <= bytes.length; at += 5 + bytes.readUInt32BE(at + 1)) {
    frames.push({ flags: bytes[at]!, json: JSON.parse(bytes.subarray(at + 5, at + 5 + bytes.readUInt32BE(at + 1)).toString()) });
  }
  return { status: res.status, frames };
}

const DEADLINE_EXCEEDED = { flags: 2, json: { error: { code: "deadline_exceeded", message: expect.any(String) } } };

describe("a watch's end on the wire", () => {
  it("says deadline_exceeded when the caller's deadline passes, not OK, whatever the client does about its own deadline", async () => {
    const { status, frames } = await watchWithDeadline("/jobservice.JobService/WatchJobStatus", { ...jobSet, jobId: "never" });
    expect(status).toBe(200);
    expect(frames).toEqual([{ flags: 0, json: { state: "JOB_ID_NOT_FOUND" } }, DEADLINE_EXCEEDED]);
  });

  it("says deadline_exceeded for the health watch too", async () => {
    const { status, frames } = await watchWithDeadline("/grpc.health.v1.Health/Watch", { service: "" });
    expect(status).toBe(200);
    expect(frames).toEqual([{ flags: 0, json: { status: expect.any(String) } }, DEADLINE_EXCEEDED]);
  });
});

describe("watch limits and followers", () => {
  it("refuses watches beyond JOBSERVICE_MAX_WATCHES with RESOURCE_EXHAUSTED, and frees a slot when one ends", async () => {
    const limited = await startTestService({ maxWatches: 2 });
    try {
      const client = createClient(JobService, createGrpcTransport({ baseUrl: limited.url }));
      const controllers = [new AbortController(), new AbortController()];
      const open = controllers.map((c, i) => collect(client.watchJobStatus({ queue: "q", jobSetId: "s", jobId: `j${i}` }, { signal: c.signal })));
      await Promise.all(open.map((w) => w.next(1)));
      const refused = await failure(
        (async () => {
          for await (const _ of client.watchJobSet({ queue: "q", jobSetId: "s" })) break;
        })(),
      );
      expect(refused.code).toBe(Code.ResourceExhausted);
      expect(refused.rawMessage).toContain("limit of 2 watches (JOBSERVICE_MAX_WATCHES)");
      controllers[0]?.abort();
      await open[0]?.done.catch(() => undefined);
      // The server notices the cancellation a moment after the client does.
      const fresh = new AbortController();
      const later = await eventuallyOpen(() => collect(client.watchJobStatus({ queue: "q", jobSetId: "s", jobId: "j9" }, { signal: fresh.signal })));
      // Nothing is stored for this job set and nothing follows it here, so absence proves nothing.
      expect(states(later.messages)).toEqual(["CONNECTION_ERR"]);
      fresh.abort();
      controllers[1]?.abort();
    } finally {
      await limited.stop();
    }
  });

  it("opens hundreds of watches of one job set, each answered for its own job, and tells all of them a change", async () => {
    const set = freshJobSet();
    const ids = Array.from({ length: 300 }, (_, i) => `job-${i}`);
    await writeNext(service.store, set, { jobs: new Map(ids.map((id) => [id, jobRecord(State.RUNNING)])), progress: healthy("1:0:0:0") });
    // Over several connections: each serves at most JOBSERVICE_MAX_CONCURRENT_STREAMS (100) streams at once.
    const clients = Array.from({ length: 4 }, () => createClient(JobService, createGrpcTransport({ baseUrl: service.url })));
    await Promise.all(clients.map((client) => client.health({})));
    const watches = [...ids, "not-yet"].map((jobId, i) => collect(clients[i % clients.length]!.watchJobStatus({ ...set, jobId })));
    await Promise.all(watches.map((w) => w.next(1)));
    expect(new Set(watches.map((w) => State[w.messages[0]?.state ?? 0]))).toEqual(new Set(["RUNNING", "JOB_ID_NOT_FOUND"]));
    await writeNext(service.store, set, { jobs: new Map([...ids, "not-yet"].map((id) => [id, jobRecord(State.SUCCEEDED)])), progress: healthy("2:0:0:0") });
    await Promise.all(watches.map((w) => w.done));
    expect(watches.every((w) => w.messages.length === 2 && w.messages[1]?.state === State.SUCCEEDED)).toBe(true);
  }, 60_000);

  it("finds changes another replica wrote by polling the store", async () => {
    const shared = createMemoryStore({ ttlSeconds: 600 });
    const follower = await startTestService({ store: shared, watchPollMs: 50 });
    try {
      const set = freshJobSet();
      await writeNext(shared, set, { jobs: new Map([["j", jobRecord(State.RUNNING)]]), progress: healthy("1:0:0:0") });
      const client = createClient(JobService, createGrpcTransport({ baseUrl: follower.url }));
      const watch = collect(client.watchJobStatus({ ...set, jobId: "j" }));
      await watch.next(1);
      // Straight into the shared store, as another replica's subscription writes: no notice reaches this process.
      await writeNext(shared, set, { jobs: new Map([["j", jobRecord(State.SUCCEEDED)]]), progress: healthy("2:0:0:0") });
      await expect(watch.done).resolves.toBe("ended");
      expect(states(watch.messages)).toEqual(["RUNNING", "SUCCEEDED"]);
    } finally {
      await follower.stop();
    }
  });
});

describe("HTTP GET and Cache-Control", () => {
  async function curl(args: readonly string[]): Promise<{ status: number; headers: string; body: string }> {
    const { stdout } = await run("curl", ["-s", "-i", "--max-time", "10", ...args]);
    const [head = "", body = ""] = stdout.split(/\r\n\r\n/, 2);
    return { status: Number(/^HTTP\/\S+ (\d+)/.exec(head)?.[1]), headers: head.toLowerCase(), body };
  }
  const get = (method: string, message: object) =>
    curl([`${service.url}/jobservice.JobService/${method}?encoding=json&message=${encodeURIComponent(JSON.stringify(message))}`]);

  it("answers GetJobStatuses by POST with curl", async () => {
    const reply = await curl([
      "-H",
      "content-type: application/json",
      "-d",
      JSON.stringify({ ...jobSet, jobIds: ["job-ok", "nope"] }),
      `${service.url}/jobservice.JobService/GetJobStatuses`,
    ]);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ statuses: { "job-ok": { state: "SUCCEEDED" }, nope: { state: "JOB_ID_NOT_FOUND" } } });
    expect(reply.headers).not.toContain("cache-control");
  });

  it("marks a terminal answer immutable, a running one short-lived and a missing one uncacheable", async () => {
    const done = await get("GetJobStatuses", { ...jobSet, jobIds: ["job-ok", "job-bad"] });
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body).statuses["job-bad"].state).toBe("FAILED");
    expect(done.headers).toContain("cache-control: max-age=31536000, immutable");
    expect((await get("GetJobStatuses", { ...jobSet, jobIds: ["job-ok", "job-run"] })).headers).toContain("cache-control: max-age=1\r\n");
    expect((await get("GetJobStatuses", { ...jobSet, jobIds: ["job-ok", "nope"] })).headers).toContain("cache-control: no-store");
    const details = await get("GetJobDetails", { ...jobSet, jobId: "job-ok" });
    expect(JSON.parse(details.body)).toMatchObject({ state: "SUCCEEDED", status: { state: "SUCCEEDED" }, finishedAt: "2023-11-14T22:13:22.500Z" });
    expect(details.headers).toContain("cache-control: max-age=31536000, immutable");
    const single = await get("GetJobStatus", { ...jobSet, jobId: "job-run" });
    expect(JSON.parse(single.body)).toEqual({ state: "RUNNING" });
    expect(single.headers).toContain("cache-control: max-age=1\r\n");
    expect((await get("Health", {})).headers).toContain("cache-control: no-store");
  });

  it("refuses GET for the watches, which are not read-once", async () => {
    const reply = await get("WatchJobStatus", { ...jobSet, jobId: "job-ok" });
    expect(reply.status).toBe(405);
  });
});
