import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createManualClock, startSimulator, type Simulator } from "../../src/simulator/index.js";
import { armadaClients, queuedEvent, basicAuth, caseOf, eventually, readStream, type ArmadaClients } from "../support/simulator.js";

const codeOf = (error: unknown): Code => ConnectError.from(error).code;

describe("faults on demand", () => {
  let sim: Simulator;
  let clients: ArmadaClients;

  beforeAll(async () => {
    sim = await startSimulator({ queues: ["q", "secret"] });
    clients = armadaClients(sim.url);
    sim.appendEvents("q", "s", [queuedEvent("a")]);
  });
  afterEach(() => sim.faults.reset());
  afterAll(() => sim.close());

  const watch = (jobSetId = "s", client = clients) => client.events.getJobSetEvents({ queue: "q", id: jobSetId, watch: true })[Symbol.asyncIterator]();

  it("drops every open stream with UNAVAILABLE", async () => {
    const first = watch();
    const second = watch();
    expect(caseOf((await first.next()).value)).toBe("queued");
    expect(caseOf((await second.next()).value)).toBe("queued");
    await eventually(() => sim.openStreams({ queue: "q", jobSetId: "s" }) === 2);
    expect(sim.faults.dropStreams()).toBe(2);
    await expect(first.next()).rejects.toMatchObject({ code: Code.Unavailable });
    await expect(second.next()).rejects.toMatchObject({ code: Code.Unavailable });
    expect(sim.openStreams()).toBe(0);
    expect(
      sim
        .calls({ method: "GetJobSetEvents" })
        .slice(-2)
        .map((call) => call.result),
    ).toEqual(["unavailable", "unavailable"]);
  });

  it("cuts connections without a status", async () => {
    const stream = watch();
    await stream.next();
    await eventually(() => sim.openStreams() === 1);
    expect(sim.faults.disconnect()).toBeGreaterThanOrEqual(1);
    const error = await stream.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    await eventually(() => sim.openStreams() === 0);
  });

  it("stalls streams: open, silent, then the queued events flow", async () => {
    sim.appendEvents("q", "stall", [queuedEvent("before")]);
    const stream = watch("stall");
    expect(caseOf((await stream.next()).value)).toBe("queued");
    sim.faults.stall(60_000);
    sim.appendEvents("q", "stall", [queuedEvent("during")]);
    const next = stream.next();
    const early = await Promise.race([next.then(() => "message"), new Promise((resolve) => setTimeout(() => resolve("silent"), 200))]);
    expect(early).toBe("silent");
    expect(sim.openStreams({ jobSetId: "stall" })).toBe(1);
    sim.faults.unstall();
    expect((await next).value.message?.events.value?.jobId).toBe("during");
    await stream.return?.();
  });

  it("refuses the next N calls of a method with the chosen code", async () => {
    sim.faults.refuse(2, Code.ResourceExhausted, { method: "GetJobSetEvents" });
    const read = () => readStream((signal) => clients.events.getJobSetEvents({ queue: "q", id: "s" }, { signal }));
    expect((await clients.events.health({})).status).toBe(1);
    expect(codeOf(await read().catch((e: unknown) => e))).toBe(Code.ResourceExhausted);
    expect(codeOf(await read().catch((e: unknown) => e))).toBe(Code.ResourceExhausted);
    expect((await read()).messages).toHaveLength(1);
  });

  it("refuses any method when none is named", async () => {
    sim.faults.refuse(1, Code.Unavailable);
    await expect(clients.submit.health({})).rejects.toMatchObject({ code: Code.Unavailable });
    expect((await clients.submit.health({})).status).toBe(1);
  });

  it("requires credentials: basic (any scheme case) or bearer, with per-queue permissions", async () => {
    sim.faults.requireAuth([
      { kind: "basic", user: "alice", password: "s3cret:with-colon", queues: ["q"] },
      { kind: "bearer", token: "tok-123" },
    ]);
    const as = (authorization?: string) => armadaClients(sim.url, authorization);
    const read = (client: ArmadaClients, queue: string) =>
      readStream((signal) => client.events.getJobSetEvents({ queue, id: "s" }, { signal })).catch((e: unknown) => codeOf(e));

    expect(await read(as(), "q")).toBe(Code.Unauthenticated);
    expect(await read(as(basicAuth("alice", "wrong")), "q")).toBe(Code.Unauthenticated);
    expect(await read(as("Digest abc"), "q")).toBe(Code.Unauthenticated);
    expect(await read(as("Bearer nope"), "q")).toBe(Code.Unauthenticated);
    expect(await read(as(basicAuth("alice", "s3cret:with-colon", "BaSiC")), "q")).toMatchObject({ ended: true });
    expect(await read(as(basicAuth("alice", "s3cret:with-colon")), "secret")).toBe(Code.PermissionDenied);
    expect(await read(as("Bearer tok-123"), "secret")).toMatchObject({ ended: true });
    await expect(
      as(basicAuth("alice", "s3cret:with-colon")).submit.submitJobs({ queue: "secret", jobSetId: "x", jobRequestItems: [{}] }),
    ).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    await expect(as().submit.health({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    sim.faults.disableAuth();
    expect(await read(as(), "q")).toMatchObject({ ended: true });
  });

  it("records what each GetJobSetEvents call asked for and how it ended", async () => {
    const [id] = sim.appendEvents("q", "recorded", [queuedEvent("a")]);
    await readStream((signal) => armadaClients(sim.url, "Bearer who").events.getJobSetEvents({ queue: "q", id: "recorded", fromMessageId: id }, { signal }));
    const call = sim.calls({ method: "GetJobSetEvents" }).at(-1);
    expect(call).toMatchObject({
      method: "api.Event/GetJobSetEvents",
      queue: "q",
      jobSetId: "recorded",
      fromMessageId: id,
      watch: false,
      errorIfMissing: false,
      authorization: "Bearer who",
      result: "ok",
    });
  });
});

describe("latency", () => {
  it("delays the start of every call on the simulator clock", async () => {
    const clock = createManualClock();
    const sim = await startSimulator({ clock });
    try {
      sim.faults.setLatency(1000);
      let answered = false;
      const health = armadaClients(sim.url)
        .events.health({})
        .then((response) => {
          answered = true;
          return response;
        });
      await eventually(() => sim.calls().length === 1);
      clock.advance(999);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(answered).toBe(false);
      clock.advance(1);
      expect((await health).status).toBe(1);
    } finally {
      await sim.close();
    }
  });
});

describe("auth given at start", () => {
  it("is what reset goes back to", async () => {
    const sim = await startSimulator({ credentials: [{ kind: "bearer", token: "boot" }] });
    try {
      const health = (authorization?: string) =>
        armadaClients(sim.url, authorization)
          .events.health({})
          .then(
            () => "ok",
            (e: unknown) => codeOf(e),
          );
      expect(await health()).toBe(Code.Unauthenticated);
      sim.faults.requireAuth([{ kind: "bearer", token: "other" }]);
      expect(await health("Bearer boot")).toBe(Code.Unauthenticated);
      sim.faults.reset();
      expect(await health("Bearer boot")).toBe("ok");
    } finally {
      await sim.close();
    }
  });
});
