import { describe, expect, it } from "vitest";
import { Cause } from "../../src/gen/api/event_pb.js";
import { readSteering } from "../../src/simulator/steering.js";

describe("steering keys", () => {
  it("leave a job unsteered when none is present", () => {
    expect(readSteering({ team: "a" }, { "example.com/x": "1" })).toEqual({ ok: true });
  });

  it("read every key, annotations winning over labels", () => {
    const result = readSteering(
      { "armada-sim/exit-code": "2", "armada-sim/retries": "1" },
      {
        "armada-sim/exit-code": "137",
        "armada-sim/cause": "OOM",
        "armada-sim/duration-ms": "2000",
        "armada-sim/reason": "killed",
        "armada-sim/lease-returns": "2",
      },
    );
    expect(result).toEqual({
      ok: true,
      steering: { exitCode: 137, cause: Cause.OOM, durationMs: 2000, reason: "killed", leaseReturns: 2, retries: 1 },
    });
  });

  it.each([
    [{ "armada-sim/outcome": "exploded" }, /armada-sim\/outcome: expected one of succeeded/],
    [{ "armada-sim/exit-code": "256" }, /armada-sim\/exit-code: expected 0..255/],
    [{ "armada-sim/duration-ms": "1.5" }, /armada-sim\/duration-ms: expected an integer/],
    [{ "armada-sim/cause": "oom" }, /armada-sim\/cause: expected one of Error/],
    [{ "armada-sim/retries": "11" }, /armada-sim\/retries: expected 0..10/],
    [{ "armada-sim/outcom": "failed" }, /armada-sim\/outcom: unknown key/],
    [{ "armada-sim/outcome": "failed", "armada-sim/exit-code": "0" }, /contradicts outcome failed/],
    [{ "armada-sim/outcome": "succeeded", "armada-sim/exit-code": "1" }, /contradicts outcome succeeded/],
    [{ "armada-sim/outcome": "cancelled", "armada-sim/cause": "OOM" }, /contradicts outcome cancelled/],
  ])("reject %j", (annotations, message) => {
    const result = readSteering({}, annotations);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(message);
  });
});
