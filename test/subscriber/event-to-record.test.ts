import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Cause, ContainerStatusSchema } from "../../src/gen/api/event_pb.js";
import type { JobEvent } from "../../src/armada/decode-event.js";
import { JobState } from "../../src/gen/api/job_pb.js";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { applyEvent, comesAfter } from "../../src/subscriber/event-to-record.js";
import type { JobRecord } from "../../src/store/store.js";
import { event, messageId } from "./event-builders.js";

/** Applies events to one job in order, as the stream would, numbering messages from 1. */
function replay(...messages: JobEvent[]): JobRecord | undefined {
  return messages.reduce<JobRecord | undefined>((record, m, i) => applyEvent(record, messageId(i + 1), m), undefined);
}

const T0 = 1_700_000_000_000;

describe("mapping Armada events to v1 states", () => {
  it.each([
    ["submitted", State.SUBMITTED],
    ["queued", State.SUBMITTED],
    ["leased", State.SUBMITTED],
    ["pending", State.SUBMITTED],
    ["running", State.RUNNING],
    ["succeeded", State.SUCCEEDED],
    ["failed", State.FAILED],
    ["cancelled", State.CANCELLED],
    ["duplicateFound", State.DUPLICATE_FOUND],
  ] as const)("%s → %s", (eventCase, state) => {
    expect(replay(event(eventCase, "j", T0))?.state).toBe(state);
  });

  it.each(["leaseReturned", "leaseExpired", "unableToSchedule", "terminated"] as const)("%s sends a running job back to SUBMITTED", (eventCase) => {
    const record = replay(event("running", "j", T0), event(eventCase, "j", T0 + 1));
    expect(record?.state).toBe(State.SUBMITTED);
    expect(record?.lastEvent).toMatch(/^[a-z_]+$/);
  });

  it.each(["reprioritized", "reprioritizing", "cancelling", "utilisation", "ingressInfo", "preempted", "preempting"] as const)(
    "%s keeps the state but records the event",
    (eventCase) => {
      const record = replay(event("running", "j", T0), event(eventCase, "j", T0 + 1));
      expect(record?.state).toBe(State.RUNNING);
      expect(record?.messageId).toBe(messageId(2));
    },
  );

  it("a state-less event for an unseen job proves it exists: SUBMITTED", () => {
    expect(replay(event("reprioritized", "j", T0))?.state).toBe(State.SUBMITTED);
  });

  it("an event case this build does not know changes nothing", () => {
    const running = replay(event("running", "j", T0));
    expect(applyEvent(running, messageId(9), undefined)).toBe(running);
    expect(applyEvent(undefined, messageId(9), undefined)).toBeUndefined();
  });
});

describe("the record of a normal run", () => {
  const record = replay(
    event("submitted", "j", T0),
    event("queued", "j", T0 + 1),
    event("leased", "j", T0 + 2, { clusterId: "c1" }),
    event("pending", "j", T0 + 3, { clusterId: "c1" }),
    event("running", "j", T0 + 4_000, { clusterId: "c1", nodeName: "n7" }),
    event("succeeded", "j", T0 + 9_000, { clusterId: "c1", nodeName: "n7" }),
  );

  it("keeps times, placement, attempts and the last event", () => {
    expect(record).toEqual({
      state: State.SUCCEEDED,
      error: "",
      lastEvent: "succeeded",
      messageId: messageId(6),
      submittedAt: T0,
      startedAt: T0 + 4_000,
      finishedAt: T0 + 9_000,
      cluster: "c1",
      node: "n7",
      runAttempts: 1,
      // Armada's own JobState for its Query API.
      armadaState: JobState.SUCCEEDED,
    });
  });
});

describe("failures", () => {
  it("error text is the reason with exit code and cause", () => {
    const record = replay(
      event("running", "j", T0),
      event("failed", "j", T0 + 1, {
        reason: "OOMKilled",
        cause: Cause.OOM,
        containerStatuses: [create(ContainerStatusSchema, { name: "main", exitCode: 137, cause: Cause.OOM })],
      }),
    );
    expect(record).toMatchObject({ state: State.FAILED, error: "OOMKilled (exit code 137, cause OOM)", exitCode: 137, cause: "OOM" });
  });

  it("takes the exit code from the first failing container and the cause from a container when the event has none", () => {
    const record = replay(
      event("failed", "j", T0, {
        reason: "Error",
        containerStatuses: [
          create(ContainerStatusSchema, { name: "sidecar", exitCode: 0 }),
          create(ContainerStatusSchema, { name: "main", exitCode: 2, cause: Cause.DeadlineExceeded }),
        ],
      }),
    );
    expect(record?.error).toBe("Error (exit code 2, cause DeadlineExceeded)");
  });

  it("says 'job failed' when Armada gives no reason, and nothing about an unknown exit code", () => {
    expect(replay(event("failed", "j", T0))?.error).toBe("job failed");
    expect(replay(event("failed", "j", T0, { reason: "preempted" }))?.error).toBe("preempted");
  });

  it("a retryable failure is not terminal: the retry's events apply", () => {
    const record = replay(
      event("running", "j", T0),
      event("failed", "j", T0 + 1, { reason: "node lost", retryable: true }),
      event("leased", "j", T0 + 2, { clusterId: "c2" }),
      event("running", "j", T0 + 3),
      event("succeeded", "j", T0 + 4),
    );
    expect(record).toMatchObject({ state: State.SUCCEEDED, error: "", cluster: "c2", runAttempts: 1 });
  });

  it("after a retryable failure the job waits as SUBMITTED without an error", () => {
    const record = replay(event("running", "j", T0), event("failed", "j", T0 + 1, { reason: "node lost", retryable: true }));
    expect(record).toMatchObject({ state: State.SUBMITTED, error: "" });
  });
});

describe("terminal states never regress", () => {
  it.each(["succeeded", "failed", "cancelled", "duplicateFound"] as const)("nothing after %s changes the record", (terminal) => {
    const final = replay(event("running", "j", T0), event(terminal, "j", T0 + 1));
    for (const later of [event("running", "j", T0 + 2), event("leaseReturned", "j", T0 + 2), event("succeeded", "j", T0 + 2)]) {
      expect(applyEvent(final, messageId(3), later)).toBe(final);
    }
  });
});

describe("re-delivered events are harmless", () => {
  it("an event at or before the job's last message id is ignored", () => {
    const leased = applyEvent(undefined, messageId(5), event("leased", "j", T0));
    expect(applyEvent(leased, messageId(5), event("leased", "j", T0))).toBe(leased);
    expect(applyEvent(leased, messageId(4), event("running", "j", T0))).toBe(leased);
    expect(applyEvent(leased, messageId(6), event("running", "j", T0))?.state).toBe(State.RUNNING);
  });

  it("orders Armada ids numerically, padded or not", () => {
    expect(comesAfter("1700000000000:10:0:1", "1700000000000:9:0:1")).toBe(true);
    expect(comesAfter("1700000000000:000009:000000:1", "1700000000000:10:0:1")).toBe(false);
    expect(comesAfter("1700000000001:0:0:0", "1700000000000:99:3:1")).toBe(true);
    expect(comesAfter("x", "")).toBe(true);
    expect(comesAfter("1:000:1", "1:0:1")).toBe(false);
    expect(comesAfter("1:2:0", "1:2")).toBe(true);
    expect(comesAfter("1:2", "1:2:0")).toBe(false);
  });

  it("orders numbers beyond double precision exactly", () => {
    expect(comesAfter("99999999999999999999:0", "99999999999999999998:5")).toBe(true);
    expect(comesAfter("99999999999999999998:5", "99999999999999999999:0")).toBe(false);
  });

  it("ids of another shape are opaque: only an equal id is a re-delivery", () => {
    expect(comesAfter("b", "a")).toBe(true);
    expect(comesAfter("a", "b")).toBe(true);
    expect(comesAfter("a", "a")).toBe(false);
  });
});
