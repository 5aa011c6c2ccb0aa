import { describe, expect, it } from "vitest";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { decodeJobRecord, decodeProgress, encodeJobRecord, encodeProgress, normalizeJobRecord, normalizeProgress } from "../../src/store/codec.js";
import type { JobRecord, JobSetProgress } from "../../src/store/store.js";
import { record } from "./contract.js";

const FULL: JobRecord = {
  state: State.FAILED,
  error: 'pod oom-killed: "main" exceeded 2Gi 😱',
  lastEvent: "failed",
  messageId: "1732300000000:12:0:3",
  submittedAt: 1732300000000,
  startedAt: 1732300004321.5,
  finishedAt: 1732300009999,
  cluster: "123",
  node: "1e5",
  exitCode: -137,
  cause: "OOM",
  runAttempts: 2,
};

const MINIMAL: JobRecord = { state: State.SUBMITTED, error: "", lastEvent: "submitted", messageId: "", runAttempts: 0 };

// Strings that JSON, numbers-by-default clients or byte handling could change.
const NASTY = ["123", "1e5", "-0", "null", "true", "", " ", '"', "\\", '["x"]', "{}", "\u0000", "é😀", "\uD800", "\uDFFF", "\r\n", "x".repeat(100_000)];

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected it to throw");
}

describe("job record codec", () => {
  it("round-trips every field exactly", () => {
    expect(decodeJobRecord(encodeJobRecord(FULL))).toStrictEqual(FULL);
    expect(decodeJobRecord(encodeJobRecord(MINIMAL))).toStrictEqual(MINIMAL);
  });

  it("round-trips strings that look like numbers, JSON or broken text", () => {
    for (const text of NASTY) {
      const record: JobRecord = { ...FULL, error: text, lastEvent: text, messageId: text, cluster: text, node: text, cause: text };
      expect(decodeJobRecord(encodeJobRecord(record))).toStrictEqual(record);
    }
  });

  it("leaves out fields that are absent at the end", () => {
    expect(encodeJobRecord(MINIMAL)).toBe('[0,"submitted","",0]');
    expect(encodeJobRecord({ ...MINIMAL, cluster: "c" })).toBe('[0,"submitted","",0,null,null,"c"]');
  });

  it("keeps a realistic running job small", () => {
    expect(encodeJobRecord(record()).length).toBeLessThanOrEqual(100);
  });

  it("normalizes a record to exactly what the round trip gives, without JSON, for stores that keep objects", () => {
    const records: JobRecord[] = [
      FULL,
      MINIMAL,
      { ...FULL, exitCode: -0, startedAt: -0, cause: undefined, node: undefined },
      ...NASTY.map((text) => ({ ...FULL, error: text, lastEvent: text, messageId: text, cluster: text, node: text, cause: text })),
    ];
    for (const record of records) {
      const normalized = normalizeJobRecord(record);
      expect(normalized).toStrictEqual(decodeJobRecord(encodeJobRecord(record)));
      expect(Object.is(normalized.exitCode, -0)).toBe(false);
      expect(Object.isFrozen(normalized)).toBe(true);
    }
    const progress: JobSetProgress = { cursor: "c", caughtUp: true, error: "", updatedAt: -0 };
    expect(normalizeProgress(progress)).toStrictEqual(decodeProgress(encodeProgress(progress)));
  });

  it("refuses to normalize what it refuses to encode, with the same message", () => {
    for (const bad of [
      { ...MINIMAL, runAttempts: Number.NaN },
      { ...MINIMAL, startedAt: Number.POSITIVE_INFINITY },
      { ...MINIMAL, cluster: 7 as unknown as string },
      { ...MINIMAL, error: undefined as unknown as string },
    ]) {
      expect(errorOf(() => normalizeJobRecord(bad))).toBe(errorOf(() => encodeJobRecord(bad)));
    }
  });

  it("refuses to encode what would not come back the same", () => {
    expect(() => encodeJobRecord({ ...MINIMAL, runAttempts: Number.NaN })).toThrow(/runAttempts must be a non-negative integer, got NaN/);
    expect(() => encodeJobRecord({ ...MINIMAL, runAttempts: -1 })).toThrow(/runAttempts/);
    expect(() => encodeJobRecord({ ...MINIMAL, startedAt: Number.POSITIVE_INFINITY })).toThrow(/startedAt must be a finite number/);
    expect(() => encodeJobRecord({ ...MINIMAL, state: 2.5 as State })).toThrow(/state must be an integer/);
    expect(() => encodeJobRecord({ ...MINIMAL, cluster: 7 as unknown as string })).toThrow(/cluster must be a string/);
  });

  it("rejects corrupt values with a clear error instead of returning garbage", () => {
    const cases: [string, RegExp][] = [
      ["", /not JSON/],
      ["{oops", /not JSON/],
      ['{"state":2}', /not a JSON array/],
      ["[2]", /lastEvent is missing/],
      ['[null,"running","m",0]', /state is missing/],
      ['["2","running","m",0]', /state must be an integer/],
      ['[2,"running","m",-1]', /runAttempts must be a non-negative integer/],
      ['[2,"running","m",0,"yesterday"]', /submittedAt must be a finite number/],
      [`[2,"running","m",0${",null".repeat(9)},"extra"]`, /14 fields, at most 13/],
    ];
    for (const [text, reason] of cases) {
      expect(() => decodeJobRecord(text)).toThrow(/^corrupt job record in the store/);
      expect(() => decodeJobRecord(text)).toThrow(reason);
    }
  });

  it("names the job a corrupt value belongs to, and shows only the start of a huge value", () => {
    const huge = `[${"9".repeat(100_000)}`;
    let message = "";
    try {
      decodeJobRecord(huge, () => 'job "j"');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^corrupt job record of job "j" in the store \(it is not JSON\)/);
    expect(message.length).toBeLessThan(300);
  });
});

describe("job set progress codec", () => {
  it("round-trips every field exactly", () => {
    const cases: JobSetProgress[] = [
      { cursor: "", caughtUp: false, error: "", updatedAt: 0 },
      { cursor: "1732300000000:12:0:3", caughtUp: true, error: "", updatedAt: 1732300000000 },
      ...NASTY.map((text) => ({ cursor: text, caughtUp: true, error: text || "x", updatedAt: 1.5 })),
    ];
    for (const progress of cases) expect(decodeProgress(encodeProgress(progress))).toStrictEqual(progress);
  });

  it("rejects corrupt values", () => {
    expect(() => decodeProgress('["c","yes",1]')).toThrow(/corrupt job set progress in the store \(caughtUp must be a boolean\)/);
    expect(() => decodeProgress("[]")).toThrow(/cursor is missing/);
  });
});
