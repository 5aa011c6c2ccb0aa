import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { UNDER_TEST } from "../support/process.js";

const run = promisify(execFile);
const [command = process.execPath, ...prefix] = UNDER_TEST;

describe("jobservice demo", () => {
  it("runs every demo job to its final state and exits 0", async () => {
    const { stdout } = await run(command, [...prefix, "demo", "--port", "0", "--timeout-s", "60"], { timeout: 90_000 });
    const finalTable = stdout.slice(stdout.lastIndexOf("JOB ID"));
    expect(finalTable).toMatch(/quick success\s+\S{26}\s+SUCCEEDED/);
    expect(finalTable).toMatch(/out of memory\s+\S{26}\s+FAILED\s+.*137/);
    expect(finalTable).toMatch(/cancelled\s+\S{26}\s+CANCELLED/);
    expect(finalTable).toMatch(/rejected\s+\S{26}\s+FAILED\s+.*GPUs/);
    expect(stdout).toContain("All jobs finished.");
  }, 100_000);
});
