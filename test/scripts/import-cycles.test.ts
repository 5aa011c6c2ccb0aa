import { describe, expect, it } from "vitest";
import { findCycles, sourceCycles } from "../../scripts/import-cycles.js";

describe("the import-cycle check", () => {
  it("finds a cycle of two, a longer one, and none in a tree", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["a", "c"]],
      ["c", ["d"]],
      ["d", ["e"]],
      ["e", ["c"]],
      ["f", ["a", "c"]],
    ]);
    expect(findCycles(graph)).toEqual([
      ["a", "b", "a"],
      ["c", "d", "e", "c"],
    ]);
    expect(
      findCycles(
        new Map([
          ["x", ["y", "z"]],
          ["y", ["z"]],
          ["z", []],
        ]),
      ),
    ).toEqual([]);
  });

  it("finds none among the modules under src/", () => {
    expect(sourceCycles()).toEqual([]);
  });
});
