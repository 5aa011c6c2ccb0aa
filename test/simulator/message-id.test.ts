import { describe, expect, it } from "vitest";
import { compareMessageIds, formatMessageId, parseMessageId } from "../../src/simulator/message-id.js";

describe("message ids", () => {
  it("print millis, seq, sub and the last flag, padded to fixed widths", () => {
    expect(formatMessageId({ millis: 1_767_225_600_000, seq: 3, sub: 12 }, true)).toBe("1767225600000:000003:000012:1");
    expect(formatMessageId({ millis: 5, seq: 0, sub: 0 }, false)).toBe("0000000000005:000000:000000:0");
  });

  it("parse back what they print, and Armada's unpadded form too", () => {
    expect(parseMessageId("1767225600000:000003:000012:1")).toEqual({ millis: 1_767_225_600_000, seq: 3, sub: 12 });
    expect(parseMessageId("1767225600000:3:12:0")).toEqual({ millis: 1_767_225_600_000, seq: 3, sub: 12 });
  });

  it.each(["", "1:2:3", "1:2:3:2", "a:b:c:d", "1:2:3:1:5", " 1:2:3:1"])("reject %j", (id) => {
    expect(parseMessageId(id)).toBeUndefined();
    expect(() => compareMessageIds(id, "1:0:0:0")).toThrow(TypeError);
  });

  it("order by millis, then seq, then sub — numerically, whatever the padding", () => {
    const ordered = ["9:0:0:1", "10:0:0:0", "10:0:1:1", "10:2:0:1", "11:0:0:1"];
    for (let i = 1; i < ordered.length; i++) expect(compareMessageIds(ordered[i - 1]!, ordered[i]!)).toBeLessThan(0);
    expect(compareMessageIds("10:000002:000000:1", "10:2:0:1")).toBe(0);
  });
});
