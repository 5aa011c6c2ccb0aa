import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createEdgeHandler, type EdgeCall } from "../../src/edge/app.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { jobRecord, seedJobs, State } from "../support/jobs.js";

/** A Connect JSON call straight into the fetch handler. */
async function call(handler: { fetch(r: Request): Promise<Response> }, method: string, body: object, header: Record<string, string> = {}) {
  const response = await handler.fetch(
    new Request(`http://edge.test/jobservice.JobService/${method}`, { method: "POST", headers: { "content-type": "application/json", ...header }, body: JSON.stringify(body) }),
  );
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("the edge entry's caller security hook", () => {
  it("is asked for every call with the method, the request's queue and the headers, and can refuse", async () => {
    const store = createMemoryStore({ ttlSeconds: 60 });
    await seedJobs(store, { queue: "open", jobSetId: "s" }, { j: jobRecord(State.RUNNING) });
    const asked: EdgeCall[] = [];
    const handler = createEdgeHandler({
      store,
      authorize(edgeCall) {
        asked.push(edgeCall);
        if (edgeCall.queue === "secret") throw new ConnectError(`may not read queue ${edgeCall.queue}`, Code.PermissionDenied);
      },
    });
    expect(await call(handler, "GetJobStatus", { queue: "open", jobSetId: "s", jobId: "j" }, { authorization: "Bearer t" })).toEqual({ status: 200, body: { state: "RUNNING" } });
    expect(await call(handler, "GetJobStatuses", { queue: "secret", jobSetId: "s", jobIds: ["j"] })).toEqual({
      status: 403,
      body: { code: "permission_denied", message: "may not read queue secret" },
    });
    expect((await call(handler, "Health", {})).status).toBe(200);
    expect(asked.map((c) => [c.method, c.queue])).toEqual([
      ["GetJobStatus", "open"],
      ["GetJobStatuses", "secret"],
      ["Health", ""],
    ]);
    expect(asked[0]?.header.get("authorization")).toBe("Bearer t");
    await store.close();
  });

  it("says a job set its owner stopped updating is no longer followed", async () => {
    const store = createMemoryStore({ ttlSeconds: 600 });
    const jobSet = { queue: "q", jobSetId: "s" };
    await seedJobs(store, jobSet, { busy: jobRecord(State.RUNNING), done: jobRecord(State.SUCCEEDED) });
    const later = createEdgeHandler({ store, staleAfterMs: 60_000, now: () => Date.now() + 120_000 });
    const reply = await call(later, "GetJobStatuses", { ...jobSet, jobIds: ["busy", "done"] });
    expect(reply.body).toMatchObject({ statuses: { busy: { state: "CONNECTION_ERR" }, done: { state: "SUCCEEDED" } } });
    expect(JSON.stringify(reply.body)).toMatch(/has not updated this job set for 120 s/);
    await store.close();
  });
});
