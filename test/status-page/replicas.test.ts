import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { eventually, FAST_LIFECYCLE } from "../subscriber/harness.js";
import { http1Request } from "../support/http.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { startFullTestService } from "../support/service.js";

const QUEUE = "shared";
let sim: Simulator;
let redis: RedisServer;
let replicas: Array<{ url: string; stop(): Promise<void> }> = [];

beforeAll(async () => {
  [sim, redis] = await Promise.all([startSimulator({ queues: [QUEUE], lifecycle: FAST_LIFECYCLE }), startRedisServer()]);
  replicas = await Promise.all([0, 1].map(() => startFullTestService(sim.url, ["--store", redis.url, "--lease-ttl-ms", "1000"])));
});

afterAll(async () => {
  await Promise.all(replicas.map((replica) => replica.stop()));
  await sim?.close();
  await redis?.stop();
});

/** The row's cells of one job set on a replica's status page, by class. */
async function rowOn(url: string, jobSetId: string): Promise<Record<string, string> | undefined> {
  const page = await http1Request(`${url}/?q=${encodeURIComponent(jobSetId)}`);
  const row = page.body.match(new RegExp(`<tr data-queue="${QUEUE}" data-job-set="${jobSetId}">(.*?)</tr>`))?.[1];
  if (!row) return undefined;
  return Object.fromEntries([...row.matchAll(/<td class="(\w[\w-]*)[^"]*">(.*?)<\/td>/g)].map(([, name = "", text = ""]) => [name, text]));
}

describe("the status page of two replicas sharing a store", () => {
  it("shows the owner on one and, on the other, a follower with the owner's stored cursor", async () => {
    const jobSetId = `replicated-${process.pid}`;
    const [jobId] = sim.submit(QUEUE, jobSetId, [{}]);
    for (const replica of replicas) {
      await fetch(`${replica.url}/jobservice.JobService/GetJobStatus`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ queue: QUEUE, jobSetId, jobId }),
      });
    }
    const finished = (): boolean => sim.events(QUEUE, jobSetId).some((m) => m.message?.events.case === "succeeded");
    await eventually(finished, Boolean);
    const last = sim.events(QUEUE, jobSetId).at(-1)?.id;
    const rows = await eventually(
      () => Promise.all(replicas.map((replica) => rowOn(replica.url, jobSetId))),
      (found) => found.every((row) => row?.cursor === last),
    );
    expect(rows.map((row) => row?.role).sort()).toEqual(["follower", "owner"]);
    expect(rows.map((row) => row?.health)).toEqual(["live", "live"]);
  });
});
