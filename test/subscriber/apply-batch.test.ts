import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { JobSchema } from "../../src/gen/api/event_pb.js";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { applyBatch, jobIdsOf } from "../../src/subscriber/apply-batch.js";
import { applyEvent } from "../../src/subscriber/event-to-record.js";
import { event, messageId, streamMessage, unknownCaseMessage } from "./event-builders.js";

const T0 = 1_700_000_000_000;

describe("applying a batch of stream messages", () => {
  it("applies each job's events in message order on top of its stored record", () => {
    const stored = new Map([["a", applyEvent(undefined, messageId(1), event("running", "a", T0))!]]);
    const batch = applyBatch(
      stored,
      [
        streamMessage(2, event("submitted", "b", T0)),
        streamMessage(3, event("succeeded", "a", T0 + 1)),
        streamMessage(4, event("running", "b", T0 + 2)),
        streamMessage(5, event("leaseReturned", "b", T0 + 3)),
      ],
      messageId(1),
    );
    expect(batch.changed.get("a")?.state).toBe(State.SUCCEEDED);
    expect(batch.changed.get("b")).toMatchObject({ state: State.SUBMITTED, lastEvent: "lease_returned" });
    expect(batch.cursor).toBe(messageId(5));
    expect(Object.fromEntries(batch.appliedByType)).toEqual({ submitted: 1, succeeded: 1, running: 1, lease_returned: 1 });
  });

  it("collects the external job URIs its submitted events carry, re-deliveries included, for the URI index", () => {
    const submitted = (jobId: string, annotations: Record<string, string>) =>
      event("submitted", jobId, T0, { job: create(JobSchema, { id: jobId, annotations }) });
    const uri = { "armadaproject.io/externalJobUri": "airflow://dag/task" };
    const stored = new Map([["a", applyEvent(undefined, messageId(1), submitted("a", uri))!]]);
    const batch = applyBatch(
      stored,
      [
        streamMessage(1, submitted("a", uri)),
        streamMessage(2, submitted("b", { other: "x" })),
        streamMessage(3, submitted("c", uri)),
        streamMessage(4, event("queued", "c", T0)),
      ],
      messageId(1),
    );
    expect(Object.fromEntries(batch.externalJobUris)).toEqual({ a: "airflow://dag/task", c: "airflow://dag/task" });
    expect([...batch.changed.keys()]).toEqual(["b", "c"]);
  });

  it("leaves out jobs the batch did not change", () => {
    const done = applyEvent(undefined, messageId(1), event("succeeded", "a", T0))!;
    const batch = applyBatch(new Map([["a", done]]), [streamMessage(2, event("running", "a", T0))], messageId(1));
    expect(batch.changed.size).toBe(0);
    expect(batch.cursor).toBe(messageId(2));
  });

  it("moves the cursor past messages of unknown cases without failing", () => {
    const batch = applyBatch(new Map(), [streamMessage(7, event("queued", "a", T0)), unknownCaseMessage(8)], "");
    expect(batch.cursor).toBe(messageId(8));
    expect([...batch.changed.keys()]).toEqual(["a"]);
  });

  it("moves the cursor past an event with an empty job id, which no job has, and neither reads nor writes it", () => {
    const messages = [streamMessage(7, event("queued", "", T0)), streamMessage(8, event("queued", "a", T0))];
    const batch = applyBatch(new Map(), messages, "");
    expect(batch.cursor).toBe(messageId(8));
    expect([...batch.changed.keys()]).toEqual(["a"]);
    expect(jobIdsOf(messages)).toEqual(["a"]);
  });

  it("an empty batch keeps the cursor", () => {
    expect(applyBatch(new Map(), [], messageId(3)).cursor).toBe(messageId(3));
  });

  it("reads each touched job once", () => {
    expect(
      jobIdsOf([
        streamMessage(1, event("queued", "a", T0)),
        streamMessage(2, event("leased", "a", T0)),
        unknownCaseMessage(3),
        streamMessage(4, event("queued", "b", T0)),
      ]),
    ).toEqual(["a", "b"]);
  });
});
