import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { createArmadaClient, type ArmadaClient } from "../../src/armada/armada-client.js";
import { createArmadaConnections, type ArmadaConnections } from "../../src/armada/connections.js";
import { createUpstreamJobs } from "../../src/armada/upstream-jobs.js";
import { createArmadaWatchCheck, type ArmadaWatchCheck } from "../../src/armada/watch-check.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { eventually, streamCalls } from "../subscriber/harness.js";

const QUEUE = "shared";
const NO_CREDENTIALS = (): Promise<string | undefined> => Promise.resolve(undefined);

function poolOf(url: string, maxStreamsPerConnection: number): ArmadaConnections {
  return createArmadaConnections({ url, maxConnections: 1, maxStreamsPerConnection, keepaliveIntervalMs: 1_000, keepaliveTimeoutMs: 1_000 });
}

/** The event stream client and a caller check over one pool of a single connection. */
function sharing(
  url: string,
  maxStreamsPerConnection: number,
  checkTimeoutMs: number,
): { connections: ArmadaConnections; client: ArmadaClient; check: ArmadaWatchCheck; close(): void } {
  const connections = poolOf(url, maxStreamsPerConnection);
  const client = createArmadaClient({
    url,
    authorization: NO_CREDENTIALS,
    maxConnections: 1,
    maxStreamsPerConnection,
    keepaliveIntervalMs: 1_000,
    keepaliveTimeoutMs: 1_000,
    healthTimeoutMs: 1_000,
    connections,
  });
  const check = createArmadaWatchCheck({ url, timeoutMs: checkTimeoutMs, maxConcurrent: 4, connections });
  return {
    connections,
    client,
    check,
    close() {
      check.close();
      client.close();
      connections.close();
    },
  };
}

/** Opens a watch stream and keeps reading it until `signal` aborts. */
function hold(client: ArmadaClient, jobSetId: string, signal: AbortSignal): Promise<void> {
  return (async () => {
    for await (const _ of client.jobSetEvents({ queue: QUEUE, jobSetId, fromMessageId: "", watch: true }, signal)) {
      // The stream only has to stay open.
    }
  })().catch(() => undefined);
}

describe("one pool of connections for every call to Armada", () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ queues: [QUEUE] });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it("a caller check takes a slot on the same pool as the event streams and gives it back when answered", async () => {
    const { connections, client, check, close } = sharing(sim.url, 2, 5_000);
    const stop = new AbortController();
    try {
      const streaming = hold(client, "shared-a", stop.signal);
      await eventually(
        () => connections.streamsPerConnection(),
        (s) => s[0] === 1,
      );
      await expect(check.ask({ authorization: "Bearer x", queue: QUEUE, jobSetId: "shared-a", fromMessageId: "" })).resolves.toBe("allowed");
      expect({ streams: connections.streamsPerConnection(), shortCalls: connections.shortCallsInFlight() }).toEqual({ streams: [1], shortCalls: 0 });
      stop.abort();
      await streaming;
      expect(connections.streamsPerConnection()).toEqual([0]);
    } finally {
      stop.abort();
      close();
    }
  });

  it("a caller check is answered while the event streams fill their connections", async () => {
    const { connections, client, check, close } = sharing(sim.url, 1, 5_000);
    const stop = new AbortController();
    try {
      const streaming = hold(client, "shared-full", stop.signal);
      await eventually(
        () => streamCalls(sim, "shared-full").length,
        (n) => n === 1,
      );
      expect(connections.streamsPerConnection()).toEqual([1]);
      await expect(check.ask({ authorization: "Bearer x", queue: QUEUE, jobSetId: "shared-full", fromMessageId: "" })).resolves.toBe("allowed");
      expect(connections.shortCallsInFlight()).toBe(0);
      stop.abort();
      await streaming;
    } finally {
      stop.abort();
      close();
    }
  });

  it("a caller check waits behind other short calls at the lane's stream limit, and reports UNAVAILABLE at its deadline", async () => {
    const { connections, check, close } = sharing(sim.url, 1, 300);
    const held = await connections.acquireShort(new AbortController().signal);
    try {
      const before = streamCalls(sim, "shared-wait").length;
      const refused = await check.ask({ authorization: "Bearer x", queue: QUEUE, jobSetId: "shared-wait", fromMessageId: "" }).catch((e: unknown) => e);
      expect(ConnectError.from(refused).code).toBe(Code.Unavailable);
      expect(streamCalls(sim, "shared-wait")).toHaveLength(before);
      held.release();
      await expect(check.ask({ authorization: "Bearer x", queue: QUEUE, jobSetId: "shared-wait", fromMessageId: "" })).resolves.toBe("allowed");
      expect(connections.shortCallsInFlight()).toBe(0);
    } finally {
      held.release();
      close();
    }
  });

  it("the Query API read-through goes over the pool too and gives its slot back", async () => {
    const connections = poolOf(sim.url, 2);
    const jobs = createUpstreamJobs({ url: sim.url, authorization: NO_CREDENTIALS, connections });
    try {
      const [jobId = ""] = sim.submit(QUEUE, "shared-query", [{}]);
      const answer = await jobs.getJobStatus({ jobIds: [jobId] }, { timeoutMs: 5_000 });
      expect(Object.keys(answer.jobStates)).toEqual([jobId]);
      expect(connections.shortCallsInFlight()).toBe(0);
    } finally {
      connections.close();
    }
  });
});
