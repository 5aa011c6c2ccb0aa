import { describe, expect, it } from "vitest";
import { JobDetails_State as Fine } from "../../src/gen/jobservice/jobservice_pb.js";
import { cacheControlFor } from "../../src/answers/cache-control.js";
import { detailsFor, fineStateOf } from "../../src/answers/details.js";
import { watchStep } from "../../src/answers/watch.js";
import { jobRecord, State } from "../support/jobs.js";

describe("Armada's finer state of a record", () => {
  it.each([
    [jobRecord(State.SUBMITTED, { lastEvent: "submitted" }), Fine.QUEUED],
    [jobRecord(State.SUBMITTED, { lastEvent: "queued" }), Fine.QUEUED],
    [jobRecord(State.SUBMITTED, { lastEvent: "leased" }), Fine.LEASED],
    [jobRecord(State.SUBMITTED, { lastEvent: "pending" }), Fine.PENDING],
    [jobRecord(State.SUBMITTED, { lastEvent: "lease_returned" }), Fine.QUEUED],
    [jobRecord(State.SUBMITTED, { lastEvent: "failed", cause: "OOM" }), Fine.QUEUED],
    [jobRecord(State.RUNNING, { lastEvent: "utilisation" }), Fine.RUNNING],
    [jobRecord(State.SUCCEEDED), Fine.SUCCEEDED],
    [jobRecord(State.CANCELLED), Fine.CANCELLED],
    [jobRecord(State.FAILED, { error: "OOMKilled (exit code 137, cause OOM)", cause: "OOM" }), Fine.FAILED],
    [jobRecord(State.FAILED, { error: "preempted (cause Evicted)", cause: "Evicted" }), Fine.PREEMPTED],
    [jobRecord(State.FAILED, { error: "does not fit (cause Rejected)", cause: "Rejected" }), Fine.REJECTED],
    [jobRecord(State.DUPLICATE_FOUND), Fine.UNSPECIFIED],
    [undefined, Fine.UNSPECIFIED],
  ])("%o is %s", (record, expected) => {
    expect(fineStateOf(record)).toBe(expected);
  });

  it("gives a job not yet known empty details, with the job set's freshness", () => {
    const details = detailsFor({ progress: { cursor: "7:0:0:0", caughtUp: false, error: "", updatedAt: 1_700_000_000_000 } });
    expect(details.status?.state).toBe(State.CONNECTION_ERR);
    expect(details.freshness).toMatchObject({ cursor: "7:0:0:0", caughtUp: false, healthy: false });
    expect(details.freshness?.lastHeardAt?.seconds).toBe(1_700_000_000n);
    expect(details.failureReason).toBe("");
  });
});

describe("what a watch sends", () => {
  const a = (state: State, error = "") => ({ state, error });
  it("sends the first answer and every change, never the same answer twice in a row", () => {
    expect(watchStep(undefined, a(State.JOB_ID_NOT_FOUND))).toEqual({ send: true, end: false });
    expect(watchStep(a(State.RUNNING), a(State.RUNNING))).toEqual({ send: false, end: false });
    expect(watchStep(a(State.RUNNING), a(State.SUCCEEDED))).toEqual({ send: true, end: true });
    expect(watchStep(undefined, a(State.FAILED, "x"))).toEqual({ send: true, end: true });
  });
  it("says an outage once, however its reason changes, and the real state after it", () => {
    expect(watchStep(a(State.RUNNING), a(State.CONNECTION_ERR, "a"))).toEqual({ send: true, end: false });
    expect(watchStep(a(State.CONNECTION_ERR, "a"), a(State.CONNECTION_ERR, "b"))).toEqual({ send: false, end: false });
    expect(watchStep(a(State.CONNECTION_ERR, "a"), a(State.RUNNING))).toEqual({ send: true, end: false });
  });
});

describe("Cache-Control of a GET answer", () => {
  it("is immutable only when every answer is terminal, uncacheable when any is transient", () => {
    expect(
      cacheControlFor([
        { state: State.SUCCEEDED, error: "" },
        { state: State.DUPLICATE_FOUND, error: "" },
      ]),
    ).toBe("max-age=31536000, immutable");
    expect(
      cacheControlFor([
        { state: State.SUCCEEDED, error: "" },
        { state: State.SUBMITTED, error: "" },
      ]),
    ).toBe("max-age=1");
    expect(
      cacheControlFor([
        { state: State.SUCCEEDED, error: "" },
        { state: State.CONNECTION_ERR, error: "x" },
      ]),
    ).toBe("no-store");
    expect(cacheControlFor([])).toBe("max-age=1");
  });
});
