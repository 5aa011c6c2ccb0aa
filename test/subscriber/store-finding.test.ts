import { describe, expect, it } from "vitest";
import { confirmFinding, judgeRenewal } from "../../src/subscriber/store-finding.js";

const held = { cursor: "c5", fence: 10 };
const lease = (holds?: { cursor: string; fence: number }) => ({ fence: 10, stored: holds !== undefined, ...(holds && { holds }) });
const stored = (cursor: string) => ({ cursor, caughtUp: true, stored: true });
const nothing = { cursor: "", caughtUp: false, stored: false };

describe("a lease renewal, against what this replica last knew the store to hold", () => {
  it("finds nothing wrong when the store holds exactly that", () => {
    expect(judgeRenewal(held, lease({ cursor: "c5", fence: 10 }), false)).toBeUndefined();
  });

  it("finds a rollback when the store holds another cursor written with this token or an older one", () => {
    expect(judgeRenewal(held, lease({ cursor: "c2", fence: 10 }), false)).toBe("rolled-back");
    expect(judgeRenewal(held, lease({ cursor: "", fence: 7 }), false)).toBe("rolled-back");
  });

  it("finds a loss when the store holds nothing", () => {
    expect(judgeRenewal(held, lease(), false)).toBe("lost");
  });

  it("concludes nothing when a write overlapped the renewal, a newer owner wrote since, or nothing was known", () => {
    expect(judgeRenewal(held, lease({ cursor: "c6", fence: 10 }), true)).toBeUndefined();
    expect(judgeRenewal(held, lease(), true)).toBeUndefined();
    expect(judgeRenewal(held, lease({ cursor: "c9", fence: 11 }), false)).toBeUndefined();
    expect(judgeRenewal(undefined, lease(), false)).toBeUndefined();
  });
});

describe("reading the store again, after a suspicion", () => {
  it("confirms a loss whenever a job set known to be stored is gone", () => {
    expect(confirmFinding(stored("c5"), nothing, undefined)).toBe("lost");
    expect(confirmFinding(undefined, nothing, "lost")).toBe("lost");
    expect(confirmFinding(undefined, nothing, undefined)).toBeUndefined();
  });

  it("confirms a rollback unless the store holds what was last written, or nothing had been written", () => {
    expect(confirmFinding(stored("c5"), stored("c2"), "rolled-back")).toBe("rolled-back");
    expect(confirmFinding(undefined, stored("c2"), "rolled-back")).toBe("rolled-back");
    expect(confirmFinding(stored("c5"), stored("c5"), "rolled-back")).toBeUndefined();
    expect(confirmFinding(nothing, stored("c2"), "rolled-back")).toBeUndefined();
  });

  it("sees no rollback without a suspicion: a write whose answer was lost may have moved the cursor", () => {
    expect(confirmFinding(stored("c5"), stored("c6"), undefined)).toBeUndefined();
  });
});
